"""The product's vocabulary: the statuses, roles, kinds, policies, ids and calendar every other
package speaks. Standard library only (the calendar reads the `holidays` tables), safe inside the
workflow sandbox; it imports nothing of the product."""

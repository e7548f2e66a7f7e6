"""Activity names as the workflows call them. Workflows refer to activities by name so that the
workflow sandbox never imports SQLAlchemy, Jinja or the Temporal client."""

PLAN_DIRECTIVE = "plan_directive"
START_ASSIGNMENTS = "start_assignments"
RELAY_CHANGE = "relay_change"
RECORD_ASSIGNMENT = "record_assignment"
RECORD_AMENDMENT = "record_amendment"
SET_DIRECTIVE_STATUS = "set_directive_status"
RECORD_NOTIFICATIONS = "record_notifications"

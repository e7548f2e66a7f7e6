"""Storage: the SQL read model, its migrations and the reference data it starts with."""

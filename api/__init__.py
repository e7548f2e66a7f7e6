"""The HTTP surface: a versioned REST API (FastAPI) over the read model and the workflows."""

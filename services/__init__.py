"""The product's use cases: issue a directive, act on an assignment, receive a dossier, route
feedback, open an account, score and snapshot. They speak the vocabulary and raise the domain
errors of `services.errors`; they know nothing of HTTP. `api/` and `web/` call them and each maps
the errors in one place."""

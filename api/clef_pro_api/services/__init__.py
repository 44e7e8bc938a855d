"""Use cases of the service: each function is one unit of work over a session."""

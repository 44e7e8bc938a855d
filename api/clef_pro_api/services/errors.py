"""Failures a use case reports to its caller; the HTTP layer maps them to statuses."""


class NotFound(Exception):
    """The thing does not exist, or the caller may not know that it does."""


class Conflict(Exception):
    """The request contradicts the stored state."""


class InvalidParameter(Exception):
    """A query parameter the caller must change; names the parameter."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message

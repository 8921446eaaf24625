"""Domain errors raised by services; views turn them into pages, API views into JSON."""
from __future__ import annotations


class PortalError(Exception):
    """Base: ``message`` is user-facing (already translated or lazily translatable)."""

    status = 400

    def __init__(self, message, **detail):
        super().__init__(str(message))
        self.message = message
        self.detail = detail


class PermissionDenied(PortalError):
    status = 403


class NotFound(PortalError):
    status = 404


class InvalidState(PortalError):
    """The action does not fit the object's current workflow state."""

    status = 409


class Conflict(PortalError):
    """Someone else changed the object since the form was loaded."""

    status = 409


class ValidationFailed(PortalError):
    status = 422

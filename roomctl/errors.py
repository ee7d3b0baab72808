"""The one error hierarchy of roomctl.

Every error roomctl raises on purpose derives from :class:`RoomctlError`. Each carries a message a person can
act on; the API turns them into RFC 9457 problem documents and the CLI into one sentence and a non-zero exit.
As in gpiozero, each leaf also derives from the builtin it means (a :class:`ValidationError` is a
``ValueError``, a :class:`NotFoundError` a ``LookupError``), so code that knows nothing of roomctl can still
catch it sensibly.
"""

from __future__ import annotations

from typing import Any


class RoomctlError(Exception):
    """Base of all roomctl errors.

    Attributes:
        status: The HTTP status the API answers with.
        slug: The last part of the problem ``type`` URI.
        title: A short, fixed summary of the kind of problem.
    """

    status: int = 500
    slug: str = "internal"
    title: str = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ConfigError(RoomctlError, ValueError):
    """The configuration is missing, unreadable or invalid."""

    slug = "config"
    title = "Invalid configuration"


class StorageError(RoomctlError, OSError):
    """The database cannot be opened or used."""

    slug = "storage"
    title = "Storage error"


class DatabaseTooNewError(StorageError):
    """The database was migrated by a newer roomctl than this one."""

    slug = "database-too-new"
    title = "Database is newer than this roomctl"


class ValidationError(RoomctlError, ValueError):
    """Input is well-formed but not acceptable."""

    status = 422
    slug = "validation"
    title = "Invalid input"


class NotFoundError(RoomctlError, LookupError):
    """The thing asked for does not exist."""

    status = 404
    slug = "not-found"
    title = "Not found"


class ConflictError(RoomctlError, ValueError):
    """The request clashes with the current state (a booking overlaps, a UID is enrolled twice)."""

    status = 409
    slug = "conflict"
    title = "Conflict"


class StateError(RoomctlError, RuntimeError):
    """The command does not fit the room's current state (next after the end, play with no clip)."""

    status = 409
    slug = "invalid-state"
    title = "Not possible now"


class AuthError(RoomctlError, PermissionError):
    """No valid credentials were given."""

    status = 401
    slug = "unauthorized"
    title = "Authentication required"


class ForbiddenError(RoomctlError, PermissionError):
    """The credentials are valid but do not allow this."""

    status = 403
    slug = "forbidden"
    title = "Not allowed"


class RateLimitedError(RoomctlError, RuntimeError):
    """Too many attempts; try again later."""

    status = 429
    slug = "rate-limited"
    title = "Too many attempts"


class AdapterError(RoomctlError, OSError):
    """A hardware adapter or outside service failed (broker, reader, audio, model, LLM)."""

    status = 503
    slug = "adapter"
    title = "A room component is unavailable"

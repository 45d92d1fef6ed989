"""Domain errors. The web layer maps them to a message next to a field or to a status page."""

from __future__ import annotations

from core.i18n import N_


class DomainError(Exception):
    """A rule of the domain refused the action. ``message`` is an English msgid."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class NotFound(DomainError):
    """The record does not exist, or not in the caller's store (the two look the same)."""

    def __init__(self, entity: str = "record") -> None:
        super().__init__(N_("Not found"))
        self.entity = entity


class PermissionDenied(DomainError):
    def __init__(self, message: str = N_("You do not have permission to do this.")) -> None:
        super().__init__(message)


class ValidationError(DomainError):
    """Bad input. ``errors`` maps a field name to a message msgid."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(N_("Please correct the fields marked below."))
        self.errors = errors


class AuthenticationFailed(DomainError):
    """Deliberately says nothing about whether the user exists."""

    def __init__(self) -> None:
        super().__init__(N_("Wrong username or password."))


class TooManyAttempts(AuthenticationFailed):
    """A username that failed too often waits (whether it exists or not)."""

    def __init__(self, minutes: int) -> None:
        DomainError.__init__(
            self,
            N_("Too many failed sign-ins for this username. Try again in %(minutes)s min."),
            minutes=minutes,
        )
        self.minutes = minutes

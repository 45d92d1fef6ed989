"""What a view does when core refuses an action it then answers with a redirect."""

from __future__ import annotations

from flask import flash
from flask_babel import gettext

from core.errors import DomainError
from extensions import db


def refuse(exc: DomainError, message: str | None = None) -> None:
    """Undo anything flushed before the refusal (a redirect would otherwise commit it) and tell
    the user why, on the next page."""
    db.session.rollback()
    flash(message or gettext(exc.message, **exc.params), "error")

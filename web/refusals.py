"""What a view does when core refuses an action: one way, for every view that then redirects.

:func:`refuse` undoes what the request flushed, marks the request as refused (the commit point
in wsgi.py then commits nothing of it, whatever happens after) and tells the user why, on the
next page. :func:`redirect_on_refusal` wraps a view with it: a domain error that leaves the view
becomes that message and a redirect. A record that does not exist (``NotFound``) is left to the
404 page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import flash, g, redirect
from flask_babel import gettext
from sqlalchemy.orm import Session

from core.errors import DomainError, NotFound
from extensions import db

View = Callable[..., Any]


def refuse(exc: DomainError, message: str | None = None) -> None:
    """Undo the request's writes, mark it refused and flash why (``message`` or the error's)."""
    db.session.rollback()
    g.refused = True
    flash(message or gettext(exc.message, **exc.params), "error")


def keep(record: Callable[[Session], None]) -> None:
    """A record that stands whatever becomes of the request (a failed sign-in, a refusal):
    the commit point writes it with the request's work, or alone after the rollback of a
    request that does not commit."""
    g.setdefault("kept_records", []).append(record)


def kept_records() -> list[Callable[[Session], None]]:
    return list(g.pop("kept_records", []))


def note_refusal(status: int) -> None:
    """A member of staff refused a page or an action (403), or sent to a record that is not
    theirs to see (404), is written to the audit trail with the page asked for (never its
    query string)."""
    from flask import request
    from flask_login import current_user

    from core import audit

    if status not in (403, 404) or request.endpoint in (None, "static"):
        return
    if not getattr(current_user, "is_authenticated", False):
        return
    store_id, actor_id = current_user.store_id, current_user.id
    data = {"status": status, "method": request.method, "path": request.path[:200]}

    def record(session: Session) -> None:
        audit.record(session, "refused", store_id=store_id, actor_id=actor_id, data=data)

    keep(record)


def was_refused() -> bool:
    """The request was refused: the commit point rolls back instead of committing."""
    return bool(g.get("refused"))


def redirect_on_refusal(
    to: Callable[..., str], *, message: Callable[[DomainError], str] | None = None
) -> Callable[[View], View]:
    """On a domain error out of the view: :func:`refuse` and redirect to ``to(**view_args)``
    (called after the rollback). ``message``: the text to flash instead of the error's own."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return view(*args, **kwargs)
            except NotFound:
                raise
            except DomainError as exc:
                refuse(exc, message(exc) if message else None)
                return redirect(to(**kwargs))

        return wrapper

    return decorate

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

from core.errors import DomainError, NotFound
from extensions import db

View = Callable[..., Any]


def refuse(exc: DomainError, message: str | None = None) -> None:
    """Undo the request's writes, mark it refused and flash why (``message`` or the error's)."""
    db.session.rollback()
    g.refused = True
    flash(message or gettext(exc.message, **exc.params), "error")


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

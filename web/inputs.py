"""Input no screen should have to think about, refused in one place (issue 16, finding 5).

- Ids in URLs fit the database's integer columns: ``<int:...>`` is bounded to 0..2**31-1
  (a larger id is a 404, not an overflow in PostgreSQL).
- Control characters: a NUL (which PostgreSQL cannot store) anywhere in a query string or a
  form, or another control character in a query string, is a 400 before any view runs. In a
  form field a person could have pasted one into, the field refuses it with its own message
  (``web.forms.Typed``).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter, Map

INT_MAX = 2**31 - 1  # the largest id (and count) an integer column holds
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not tab, line feed, return


class BoundedInt(IntegerConverter):
    """``<int:...>`` within what the database's integer columns hold."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, *args, **kwargs)


def register(app: Flask) -> None:
    """Install the bounded converter (before any route is added) and the guard."""
    app.url_map.converters["int"] = BoundedInt

    @app.before_request
    def refuse_control_characters() -> None:
        for key, values in request.args.lists():
            if any(CONTROL.search(text) for text in (key, *values)):
                abort(400)
        for key, values in request.form.lists():
            if any("\x00" in text for text in (key, *values)):
                abort(400)

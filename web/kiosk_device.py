"""The kiosk device of the current request, recognised by its long-lived cookie."""

from __future__ import annotations

from flask import g, request

from core.db import utcnow
from core.stores.kiosks import Kiosk, kiosk_for_token
from extensions import db

KIOSK_COOKIE = "showroom_kiosk"
KIOSK_COOKIE_MAX_AGE = 5 * 365 * 24 * 3600  # a device stays enrolled until revoked


def current_kiosk() -> Kiosk | None:
    """The enrolled device making this request, or None (looked up once per request; not at
    all once the request met a database outage, so that its error page still opens)."""
    if "kiosk" not in g:
        if g.get("database_down"):
            return None
        g.kiosk = kiosk_for_token(db.session(), request.cookies.get(KIOSK_COOKIE), utcnow())
    return g.kiosk


def is_kiosk_request() -> bool:
    """The request comes from a browser that carries a kiosk cookie (valid or not)."""
    return bool(request.cookies.get(KIOSK_COOKIE))

"""Personal data a page keeps in the browser between two requests, encrypted as well as signed.

Flask's session cookie is signed, not encrypted: anyone holding the cookie can read it. The
kiosk keeps the check-in in progress (mobile number, surname) there for the minute a visitor
takes; sealed, the cookie shows nothing of it, and a sealed value that was tampered with, or
sealed under another secret key, opens as nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


@cache
def _fernet(secret_key: str | bytes) -> Fernet:
    # A key of its own, derived from the application's secret: the cookie signature's key is
    # never used to encrypt.
    secret = secret_key if isinstance(secret_key, bytes) else secret_key.encode()
    digest = hashlib.sha256(b"showroom sealed values\x00" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(value: Any) -> str:
    """``value`` (anything JSON can hold), encrypted and authenticated, as text."""
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return _fernet(current_app.secret_key).encrypt(data).decode("ascii")


def unseal(token: Any) -> Any | None:
    """What ``seal`` was given, or None for anything that is not an intact sealed value."""
    if not isinstance(token, str):
        return None
    try:
        data = _fernet(current_app.secret_key).decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        return None
    return json.loads(data)

"""Security headers on every response, and no copy of a page in any cache.

Flask-Talisman sets the Content-Security-Policy (a fresh nonce per request, in ``csp_nonce()``
for the templates), ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, the
Referrer-Policy and the Permissions-Policy. Two headers are set here instead:

- HSTS, only when the request really came over HTTPS: ``request.is_secure`` sees the scheme the
  trusted proxies reported (``TRUSTED_PROXIES``, wsgi.py), never an ``X-Forwarded-Proto`` from a
  client (Talisman's own HSTS would believe that header from anyone).
- ``Cache-Control: no-store`` on every response but the static files: pages, htmx fragments,
  the revealed numbers, exports and the lobby all show personal data, and a shared reception PC
  must keep none of them.

The policy allows no inline script or style: scripts are files in static/ (a page passes them
data in ``data-`` attributes or a ``<script type="application/json">`` block); htmx runs with
``allowEval``, ``allowScriptTags`` and its indicator styles off (templates/base.html).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_talisman import Talisman

HSTS = "max-age=31536000"  # a year; not includeSubDomains: a dealer's other hosts are theirs

# 'nonce-…' is added to script-src and style-src on each request.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
PERMISSIONS_POLICY = {
    "camera": "()",
    "microphone": "()",
    "geolocation": "()",
    "payment": "()",
    "usb": "()",
    "browsing-topics": "()",
}


def register(app: Flask) -> None:
    # One Talisman per app (its options live on the instance).
    app.extensions["talisman"] = Talisman(
        app,
        force_https=False,  # TLS ends at the proxy; the app serves what it is sent
        session_cookie_secure=False,  # wsgi.HttpsAwareSessionInterface decides, per request
        strict_transport_security=False,  # below, from request.is_secure only
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=["script-src", "style-src"],
        referrer_policy="same-origin",
        permissions_policy=PERMISSIONS_POLICY,
        x_content_type_options=True,
    )

    @app.after_request
    def transport_and_cache(response: Response) -> Response:
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = HSTS
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

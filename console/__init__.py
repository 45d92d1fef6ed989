"""The staff console: consultants, customer service, managers and admins."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")

from console import analytics, auth, callbacks, opportunity, reception, rules, views  # noqa: E402,F401  (routes register on import)

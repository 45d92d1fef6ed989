"""The entrance kiosk: public, touch-first pages for walk-in visitors."""

from flask import Blueprint

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

from kiosk import views  # noqa: E402, F401  (registers the routes on bp)

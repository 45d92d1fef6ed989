"""The entrance kiosk: public, touch-first pages for walk-in visitors."""

from flask import Blueprint

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

"""The kiosk's blueprint; its routes are in kiosk/views.py (imported by wsgi)."""

from flask import Blueprint

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

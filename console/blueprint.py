"""The staff console's blueprint; its routes are in the modules beside it (imported by wsgi)."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")

"""Routes that belong to no role: the front door, the health check, the language switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import text

from core.stores.auth import set_locale
from extensions import db, limiter
from web.forms import LanguageForm
from web.kiosk_device import is_kiosk_request

bp = Blueprint("web", __name__)


@bp.route("/")
def index() -> ResponseReturnValue:
    """The front door: a kiosk goes to its welcome screen, staff to the console."""
    if is_kiosk_request():
        return redirect(url_for("kiosk.welcome"))
    return redirect(url_for("console.home"))


@bp.route("/healthz")
def healthz() -> ResponseReturnValue:
    """Database and queue status as JSON; 503 when the database cannot be reached."""
    body: dict[str, Any] = {}
    try:
        db.session.execute(text("SELECT 1"))
        body["database"] = "ok"
    except Exception as exc:  # any driver error means: not healthy
        db.session.rollback()
        body["database"] = "error"
        body["database_error"] = type(exc).__name__
    body["queue"] = _queue_status()
    body["rate_limits"] = _rate_limit_status()
    body["status"] = "ok" if body["database"] == "ok" else "error"
    return jsonify(body), 200 if body["database"] == "ok" else 503


def _rate_limit_status() -> dict[str, Any]:
    """Where the rate limits are counted: Redis, or each process's memory while Redis is away
    (sign-in and the kiosk keep working; limits are then per process)."""
    uri = str(current_app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if uri.startswith("memory"):
        return {"storage": "memory", "status": "ok"}
    try:
        reachable = bool(limiter.storage.check())
    except Exception:  # any client error means: unreachable
        reachable = False
    if not reachable:
        return {"storage": "memory (fallback: Redis unreachable)", "status": "degraded"}
    return {"storage": "redis", "status": "ok"}


def _queue_status() -> dict[str, Any]:
    from rq import Worker

    from jobs import get_queue

    if not current_app.config.get("REDIS_URL"):
        return {"mode": "inline", "status": "ok"}
    queue = get_queue()
    try:
        queue.connection.ping()
        return {
            "mode": "redis",
            "status": "ok",
            "queued": queue.count,
            "workers": Worker.count(queue=queue),
        }
    except Exception as exc:
        return {"mode": "redis", "status": "error", "error": type(exc).__name__}


@bp.route("/lang", methods=["POST"])
def switch_language() -> ResponseReturnValue:
    """Switch the interface language; it sticks in the session and on the user's profile."""
    form = LanguageForm()
    lang = form.lang.data
    if form.validate() and lang:
        session["lang"] = lang
        if current_user.is_authenticated:
            set_locale(db.session(), current_user.id, lang)
    target = form.next.data or ""
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("web.index")
    return redirect(target)

"""The application factory: ``flask --app wsgi ...`` and ``gunicorn 'wsgi:create_app()'``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from core.db import configure_sqlite
from extensions import babel, csrf, db, limiter, migrate
from settings import DEFAULT_LANGUAGE, LANGUAGES, database_url, redis_url

ROOT = Path(__file__).resolve().parent


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else generated once into instance/ (never committed)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    instance_path = Path(app.instance_path)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url(instance_path),
        REDIS_URL=redis_url(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("SESSION_COOKIE_SECURE") == "1",
        SESSION_COOKIE_NAME="showroom_session",
        PERMANENT_SESSION_LIFETIME=12 * 3600,  # one working day (the server ends it then too)
        CONSOLE_IDLE_MINUTES=int(os.environ.get("CONSOLE_IDLE_MINUTES", "30")),
        # sign-in tries per client address: high, for a store whose staff share one address
        # (each username is throttled on its own, core.stores.auth)
        LOGIN_ADDRESS_LIMIT=os.environ.get("LOGIN_ADDRESS_LIMIT", "120 per minute"),
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "translations"),
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead, which expires
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        RATELIMIT_ENABLED=True,
        # Redis is optional at run time: while it is away the limits are counted in each
        # process's memory (said in the log and on /healthz), and a dead Redis costs a request
        # half a second at most, not a hang. The limiter tries Redis again by itself.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        TRUSTED_PROXIES=int(os.environ.get("TRUSTED_PROXIES", "0")),
    )
    if config:
        app.config.update(config)
    # An error's text never quotes the statement's values (numbers, names), whatever was passed.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        "hide_parameters": True,
    }
    if "SECRET_KEY" not in (config or {}):
        app.config["SECRET_KEY"] = _secret_key(instance_path)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    app.session_interface = HttpsAwareSessionInterface()
    # First: the request's clock starts before, and its log line is written after, every other
    # hook; then the security headers (web/headers.py).
    from web import headers, logs

    logs.register(app)
    headers.register(app)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]  # Flask's documented way

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            configure_sqlite(engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=_select_timezone)

    # The views modules register their routes on their blueprint when imported.
    from console import analytics, auth, callbacks, opportunity, pipl, reception, rules  # noqa: F401
    from console import views as console_views  # noqa: F401
    from console.blueprint import bp as console_bp
    from jobs import init_app as init_jobs
    from kiosk import views as kiosk_views  # noqa: F401
    from kiosk.blueprint import bp as kiosk_bp
    from web import commands, errors, inputs, labels, lobby, views

    inputs.register(app)  # before the routes: it bounds their <int:...>
    auth.init_login(app)
    init_jobs(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(kiosk_bp)
    app.register_blueprint(lobby.bp)
    errors.register(app)
    labels.register(app)
    commands.register(app)
    _register_commit_point(app)
    return app


def _select_locale() -> str:
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False) and current_user.locale in LANGUAGES:
        return current_user.locale
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return DEFAULT_LANGUAGE


def _select_timezone() -> str:
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False):
        return current_user.timezone
    return getattr(g, "store_timezone", None) or "Asia/Shanghai"


def _register_commit_point(app: Flask) -> None:
    """One place commits: the end of a request that succeeded and was not refused (a refusal
    answered with a redirect is still a refusal: see web.refusals). Jobs are enqueued after the
    commit; a request that does not commit drops the jobs it asked for, and writes alone the
    records that stand whatever becomes of it (``web.refusals.keep``: a failed sign-in, a
    refusal on the audit trail).

    The database may go away after the view's work, at the commit itself: then nothing was
    saved, and the answer is the outage's (503, as if a statement of the view had met it) with
    the session as the request found it: what the view changed in it (a kiosk check-in taken
    off the tablet as done, a flash saying it was saved) must not outlive the work."""
    from sqlalchemy.exc import OperationalError

    from core import audit
    from jobs import drop_pending, flush_pending
    from web.errors import database_down, database_unavailable
    from web.refusals import kept_records, note_refusal, was_refused

    @app.before_request
    def bind_client_address() -> None:
        audit.bind_address(request.remote_addr)

    @app.teardown_request
    def unbind_client_address(_exc: BaseException | None) -> None:
        audit.bind_address(None)

    @app.after_request
    def commit(response: Response) -> Response:
        if database_down():
            drop_pending()
            return response
        note_refusal(response.status_code)
        if response.status_code < 400 and not was_refused():
            for record in kept_records():
                record(db.session())
            try:
                db.session.commit()
            except OperationalError as exc:
                drop_pending()
                _session_as_it_came(app)
                return app.make_response(database_unavailable(exc))
            flush_pending()
        else:
            db.session.rollback()
            drop_pending()
            kept = kept_records()
            for record in kept:
                record(db.session())
            if kept:
                db.session.commit()
        return response


def _session_as_it_came(app: Flask) -> None:
    """Undo what the request changed in its session: open it again from the request's cookie."""
    incoming = app.session_interface.open_session(app, request)
    session.clear()
    if incoming:
        session.update(incoming)

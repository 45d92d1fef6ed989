"""Sign-in, sign-out and the role check every console route goes through."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user, login_user, logout_user

from console.blueprint import bp
from console.forms import LoginForm
from core.db import utcnow
from core.errors import AuthenticationFailed, TooManyAttempts
from core.opportunities.access import Viewer
from core.stores import sessions
from core.stores.auth import (
    StaffIdentity,
    authenticate,
    load_identity,
    record_failure,
    set_locale,
)
from core.timeutil import local_date
from extensions import db, limiter, login_manager
from web.errors import database_down
from web.forms import is_ascii_int
from web.kiosk_device import is_kiosk_request
from web.refusals import keep

PUBLIC_ENDPOINTS = {"console.login"}
# Pages that poll by themselves: they keep no one signed in (the idle time-out counts only what
# a person does).
POLLS = {"console.arrivals", "console.reception_live"}
SESSION_TOKEN = "sid"  # the cookie session holds the server session's token, nothing more


class StaffUser(UserMixin):
    """The signed-in member of staff, as Flask-Login sees them."""

    def __init__(self, identity: StaffIdentity) -> None:
        self.identity = identity

    def get_id(self) -> str:
        return str(self.identity.id)

    @property
    def is_active(self) -> bool:
        return self.identity.active

    def __getattr__(self, name: str) -> Any:
        return getattr(self.identity, name)


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str) -> StaffUser | None:
        """The signed-in member of staff, while their session on the server is alive (it
        ends with sign-out, after the idle time, or 12 hours after sign-in)."""
        if database_down():  # the error page of an outage opens signed out, without a query
            return None
        identity = load_identity(db.session(), int(user_id)) if is_ascii_int(user_id) else None
        if identity is None or not identity.active:
            return None
        alive = sessions.check(
            db.session(),
            identity.id,
            session.get(SESSION_TOKEN),
            utcnow(),
            idle=timedelta(minutes=current_app.config["CONSOLE_IDLE_MINUTES"]),
            activity=request.endpoint not in POLLS,
        )
        return StaffUser(identity) if alive else None

    @login_manager.unauthorized_handler
    def unauthorized() -> ResponseReturnValue:
        flash(_("Please sign in."), "info")
        if request.headers.get("HX-Request"):
            # a polled panel whose session ended: the whole page goes to the sign-in
            page = request.headers.get("HX-Current-URL", "")
            target = url_for("console.login", next=urlsplit(page).path or None)
            return "", 204, {"HX-Redirect": target}
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))


def roles(*allowed: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare which roles may open a console view. A view without it is refused to all."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        view._roles = frozenset(str(role) for role in allowed)  # type: ignore[attr-defined]  # read by the menu
        return view

    return decorate


@bp.before_request
def check_role() -> Any:
    if is_kiosk_request():
        # A kiosk is a public device: no console page, not even the sign-in, opens on it.
        abort(403)
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    view = current_app.view_functions.get(request.endpoint or "")
    allowed = getattr(view, "_roles", None)
    if not allowed or current_user.role not in allowed:
        abort(403)
    return None


def viewer() -> Viewer:
    """The signed-in member of staff as core's need-to-know rule sees them."""
    return Viewer(current_user.id, current_user.role, current_user.store_id, current_user.timezone)


def user_today() -> date:
    """Today in the signed-in user's store's calendar."""
    return local_date(utcnow(), current_user.timezone)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
# Per address, high enough for a store whose staff share one address; each username is
# throttled on its own (core.stores.auth.throttled).
@limiter.limit(lambda: current_app.config["LOGIN_ADDRESS_LIMIT"], methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("console.home"))
    error = None
    form = LoginForm()
    username = form.username.typed()
    status = 200
    if request.method == "POST":
        now = utcnow()
        try:
            identity = authenticate(db.session(), username, form.password.data or "", now)
        except TooManyAttempts as exc:
            error, status = _(exc.message, **exc.params), 429
        except AuthenticationFailed as exc:
            error, status = _(exc.message), 401
            keep(lambda s: record_failure(s, username, now))
        else:
            chosen_lang = session.get("lang")
            session.clear()  # a new session: nothing of the one before sign-in carries over
            session.permanent = True
            if chosen_lang:  # a language picked on the sign-in page wins and sticks
                session["lang"] = chosen_lang
                set_locale(db.session(), identity.id, chosen_lang)
            session[SESSION_TOKEN] = sessions.start(
                db.session(), identity.id, now, request.remote_addr
            )
            login_user(StaffUser(identity))
            return redirect(_safe_next(request.args.get("next")) or url_for("console.home"))
    return render_template("console/login.html", error=error, username=username), status


@bp.route("/logout", methods=["POST"])
@roles("cs_agent", "consultant", "manager", "admin")
def logout() -> ResponseReturnValue:
    lang = session.get("lang")
    sessions.end(db.session(), session.get(SESSION_TOKEN), utcnow())
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."), "info")
    return redirect(url_for("console.login"))


@bp.route("/account")
@roles("cs_agent", "consultant", "manager", "admin")
def account() -> ResponseReturnValue:
    """The signed-in person's own account: where they are signed in, and signing out
    everywhere."""
    idle = timedelta(minutes=current_app.config["CONSOLE_IDLE_MINUTES"])
    return render_template(
        "console/account.html",
        open_sessions=sessions.open_sessions(
            db.session(), current_user.id, utcnow(), session.get(SESSION_TOKEN), idle
        ),
        idle_minutes=current_app.config["CONSOLE_IDLE_MINUTES"],
    )


@bp.route("/logout/everywhere", methods=["POST"])
@roles("cs_agent", "consultant", "manager", "admin")
def logout_everywhere() -> ResponseReturnValue:
    """Sign out on every browser and device (a tablet left signed in, a lost phone)."""
    lang = session.get("lang")
    ended = sessions.end_all(db.session(), current_user.id, utcnow(), "everywhere")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out on every device (%(n)s sessions).", n=ended), "info")
    return redirect(url_for("console.login"))


NAV = (
    ("console.home", _l("Today")),
    ("console.reception", _l("Reception")),
    ("console.worklist", _l("Callbacks")),
    ("console.customers", _l("Customers")),
    ("console.team", _l("Team")),
    ("console.rules", _l("Rules")),
    ("console.analytics", _l("Analytics")),
    ("console.staff", _l("Staff")),
    ("console.nightly", _l("Nightly runs")),
    ("console.system", _l("System")),
)


@bp.app_context_processor
def navigation() -> dict[str, Any]:
    def nav_items() -> list[tuple[str, str, frozenset[str]]]:
        """The menu: only the pages the signed-in role may open."""
        if not current_user.is_authenticated:
            return []
        items = []
        for endpoint, title in NAV:
            allowed: frozenset[str] = getattr(
                current_app.view_functions.get(endpoint), "_roles", frozenset()
            )
            if current_user.role in allowed:
                items.append((endpoint, str(title), allowed))
        return items

    return {"nav_items": nav_items}

"""The kiosk's pages: welcome -> mobile -> confirm or name -> interest -> consent -> done.

The check-in in progress lives in the Flask session under one key (``checkin``) with the time
it started, sealed (``web.sealed``: encrypted, not only signed, as it holds the visitor's number
and name); it is dropped on completion, on an idle reset and when it gets too old. Nothing is
written to the database before the last step, which calls ``core.checkin.check_in`` once with the
check-in's idempotency key, so a double tap or a resubmit gives one visit.

The device is recognised by its kiosk cookie (see ``web.kiosk_device``); a browser without a
valid one is sent to the enrolment page, where a member of staff enrols it to their store.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import (
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

from core.checkin.service import (
    MAX_PARTY,
    NOTICE_VERSION,
    SURNAME_MAX,
    CheckIn,
    check_in,
    lookup_visitor,
    validate_car_model,
    validate_party_size,
    validate_purpose,
    validate_surname,
    validate_title,
)
from core.db import utcnow
from core.enums import VisitPurpose, VisitSource
from core.errors import (
    AuthenticationFailed,
    PermissionDenied,
    TooManyAttempts,
    ValidationError,
)
from core.phone import normalise_mobile
from core.stores import kiosks
from core.stores.auth import record_failure, verify_credentials
from core.stores.service import CarModelChoice, car_models
from extensions import db, limiter
from kiosk.blueprint import bp
from kiosk.forms import (
    MOBILE_TYPED_MAX,
    SURNAME_TYPED_MAX,
    ConfirmForm,
    ConsentForm,
    EnrolForm,
    InterestForm,
    MobileForm,
    NameForm,
)
from settings import DEFAULT_LANGUAGE, LANGUAGES
from web.errors import ErrorArea, error_area
from web.forms import LanguageForm
from web.kiosk_device import KIOSK_COOKIE, KIOSK_COOKIE_MAX_AGE, current_kiosk
from web.refusals import keep
from web.sealed import seal, unseal

STATE = "checkin"  # the check-in in progress
DONE = "checkin_done"  # what the done screen shows, once
PUBLIC_ENDPOINTS = {"kiosk.enrol", "kiosk.language"}
STEPS = 4  # mobile, confirm-or-name, interest, consent

DEFAULTS = {
    "KIOSK_IDLE_SECONDS": 60,  # back to the welcome screen after this long without a touch
    "KIOSK_DONE_SECONDS": 20,  # the done screen clears itself sooner: the visitor walks away
    "KIOSK_CHECKIN_MAX_SECONDS": 600,  # a check-in older than this is dropped
    "KIOSK_RATE_LIMIT": "60 per minute",  # form posts per device
    "KIOSK_LOOKUP_LIMIT": "20 per minute",  # mobile-number look-ups per device
}


def setting(name: str) -> Any:
    return current_app.config.get(name, DEFAULTS[name])


# --- the device ----------------------------------------------------------------------------------


def device_key() -> str:
    """The rate-limit key: the enrolled device, else (enrolment) the address."""
    kiosk = current_kiosk()
    return f"kiosk:{kiosk.id}" if kiosk else f"addr:{get_remote_address()}"


flow_limit = limiter.shared_limit(
    lambda: setting("KIOSK_RATE_LIMIT"), scope="kiosk-flow", key_func=device_key, methods=["POST"]
)
lookup_limit = limiter.limit(
    lambda: setting("KIOSK_LOOKUP_LIMIT"), key_func=device_key, methods=["POST"]
)


@bp.before_request
def require_enrolled_device() -> Any:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    kiosk = current_kiosk()
    if kiosk is None:
        return redirect(url_for("kiosk.enrol"))
    g.store_timezone = kiosk.timezone
    if session.get("lang") not in LANGUAGES:
        session["lang"] = _default_lang()
    return None


@bp.context_processor
def kiosk_context() -> dict[str, Any]:
    return {
        "kiosk": current_kiosk(),
        "steps": STEPS,
        "reset_url": url_for("kiosk.reset"),
    }


def _default_lang() -> str:
    kiosk = current_kiosk()
    return kiosk.locale if kiosk and kiosk.locale in LANGUAGES else DEFAULT_LANGUAGE


def _page(
    template: str, status: int = 200, *, idle: int | None = None, **context: Any
) -> ResponseReturnValue:
    if idle is None:
        idle = int(setting("KIOSK_IDLE_SECONDS"))
    return render_template(template, idle_seconds=idle, **context), status


# --- the check-in in progress ------------------------------------------------------------------


def _now() -> float:
    return utcnow().timestamp()


def _state() -> dict[str, Any] | None:
    """The check-in in progress, or None (a stale one is dropped). It is kept sealed in the
    session cookie: the cookie of a public device never shows a visitor's number or name."""
    state = unseal(session.get(STATE))
    if not isinstance(state, dict):
        return None
    if _now() - float(state.get("started", 0)) > float(setting("KIOSK_CHECKIN_MAX_SECONDS")):
        session.pop(STATE, None)
        return None
    return state


def _start() -> dict[str, Any]:
    session.pop(DONE, None)
    state = {"started": _now(), "key": uuid.uuid4().hex}
    session[STATE] = seal(state)
    return state


def _save(state: dict[str, Any], **changes: Any) -> None:
    state.update(changes)
    session[STATE] = seal(state)


def _progress(state: dict[str, Any]) -> str:
    """The first step still to do."""
    if not state.get("mobile"):
        return "mobile"
    if state.get("known"):
        if not state.get("confirmed"):
            return "confirm"
    elif not state.get("surname"):
        return "name"
    if not state.get("purpose"):
        return "interest"
    return "consent"


ORDER = {"mobile": 1, "confirm": 2, "name": 2, "interest": 3, "consent": 4}


def _guard(step: str) -> tuple[dict[str, Any] | None, Response | None]:
    """The state, or a redirect to where this visitor should be instead."""
    state = _state()
    if state is None:
        return None, redirect(url_for("kiosk.welcome"))
    progress = _progress(state)
    if step in ("confirm", "name"):
        wrong_branch = (step == "confirm") != bool(state.get("known"))
        if not state.get("mobile") or wrong_branch:
            return None, redirect(url_for(f"kiosk.{progress}"))
    elif ORDER[step] > ORDER[progress]:
        return None, redirect(url_for(f"kiosk.{progress}"))
    return state, None


def _messages(exc: ValidationError) -> dict[str, str]:
    return {field: _(msgid) for field, msgid in exc.errors.items()}


# --- welcome, reset, language ------------------------------------------------------------------


@bp.route("/")
def welcome() -> ResponseReturnValue:
    session.pop(STATE, None)
    session.pop(DONE, None)
    # Nothing to clear on the welcome screen, except a language the last visitor chose.
    idle = int(setting("KIOSK_IDLE_SECONDS")) if session.get("lang") != _default_lang() else 0
    return _page("kiosk/welcome.html", idle=idle)


@bp.route("/reset")
def reset() -> ResponseReturnValue:
    """Where the idle timer and the "start over" button go: forget everything."""
    session.clear()
    return redirect(url_for("kiosk.welcome"))


@bp.route("/lang", methods=["POST"])
def language() -> ResponseReturnValue:
    form = LanguageForm()
    if form.validate() and form.lang.data:
        session["lang"] = form.lang.data
    target = form.next.data or ""
    if not target.startswith("/kiosk/") or "//" in target or "\\" in target:
        target = url_for("kiosk.welcome")
    return redirect(target, 303)


# --- step 1: mobile ----------------------------------------------------------------------------


@bp.route("/mobile", methods=["GET", "POST"])
@flow_limit
@lookup_limit
def mobile() -> ResponseReturnValue:
    state = _state() or _start()
    if request.method == "GET":
        not_me = bool(state.pop("not_me", False))
        _save(state)
        return _mobile_page(state.get("mobile") or state.get("draft", ""), not_me=not_me)
    form = MobileForm()
    raw = form.mobile.typed().strip()[:MOBILE_TYPED_MAX]
    kiosk = current_kiosk()
    assert kiosk is not None
    try:
        number = normalise_mobile(raw)
        known = lookup_visitor(db.session(), kiosk.store_id, number)
    except ValidationError as exc:
        return _mobile_page(raw, _messages(exc), status=422)
    if number != state.get("mobile"):
        # A new number: forget what was answered for the previous one.
        for key in ("known", "confirmed", "surname", "title"):
            state.pop(key, None)
    # A returning visitor confirms the number they typed, masked; the kiosk never shows (nor
    # keeps) the name behind a number: typing someone's number tells nothing about them.
    identity = {"masked": known.masked_mobile} if known else None
    state.pop("draft", None)
    _save(state, mobile=number, known=identity)
    return redirect(url_for("kiosk.confirm" if known else "kiosk.name"), 303)


def _mobile_page(
    value: str, errors: dict[str, str] | None = None, status: int = 200, not_me: bool = False
) -> ResponseReturnValue:
    return _page("kiosk/mobile.html", status, mobile=value, errors=errors or {}, not_me=not_me)


# --- step 2a: a known customer confirms who they are -------------------------------------------


@bp.route("/confirm", methods=["GET", "POST"])
@flow_limit
def confirm() -> ResponseReturnValue:
    state, elsewhere = _guard("confirm")
    if elsewhere:
        return elsewhere
    assert state is not None
    if request.method == "POST":
        form = ConfirmForm()
        if form.validate() and form.answer.data == "yes":
            _save(state, confirmed=True)
            return redirect(url_for("kiosk.interest"), 303)
        # Not them: the number was probably mistyped. Forget the identity it showed; keep the
        # digits on the keypad screen so that the visitor can correct them.
        draft = state.pop("mobile", "")
        for key in ("known", "confirmed"):
            state.pop(key, None)
        _save(state, not_me=True, draft=draft)
        return redirect(url_for("kiosk.mobile"), 303)
    return _page("kiosk/confirm.html", known=state["known"])


# --- step 2b: a new visitor gives a surname and title ------------------------------------------


@bp.route("/name", methods=["GET", "POST"])
@flow_limit
def name() -> ResponseReturnValue:
    state, elsewhere = _guard("name")
    if elsewhere:
        return elsewhere
    assert state is not None
    if request.method == "GET":
        return _name_page(state.get("surname", ""), state.get("title"))
    form = NameForm()
    errors = {} if form.validate() else form.messages()
    clean: dict[str, str] = {}
    for field, check in (("surname", validate_surname), ("title", validate_title)):
        if field in errors:
            continue
        try:
            clean[field] = check(form[field].data)
        except ValidationError as exc:
            errors.update(_messages(exc))
    if errors:
        typed = form.typed()
        return _name_page(typed["surname"][:SURNAME_TYPED_MAX], typed["title"], errors, 422)
    _save(state, surname=clean["surname"], title=clean["title"])
    return redirect(url_for("kiosk.interest"), 303)


def _name_page(
    surname: str, title: str | None, errors: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    return _page(
        "kiosk/name.html",
        status,
        surname=surname,
        title=title,
        errors=errors or {},
        surname_max=SURNAME_MAX,
    )


# --- step 3: interest --------------------------------------------------------------------------


PURPOSES = [p.value for p in VisitPurpose]


@bp.route("/interest", methods=["GET", "POST"])
@flow_limit
def interest() -> ResponseReturnValue:
    state, elsewhere = _guard("interest")
    if elsewhere:
        return elsewhere
    assert state is not None
    kiosk = current_kiosk()
    assert kiosk is not None
    if request.method == "GET":
        return _interest_page(
            {
                "car_model": state.get("car_model", "none"),
                "purpose": state.get("purpose"),
                "party_size": state.get("party_size", 1),
            }
        )
    form = InterestForm()
    errors = {} if form.validate() else form.messages()
    clean: dict[str, Any] = {}
    for field, check in (
        ("car_model", lambda value: validate_car_model(db.session(), kiosk.store_id, value)),
        ("purpose", validate_purpose),
        ("party_size", validate_party_size),
    ):
        if field in errors:
            continue
        try:
            clean[field] = check(form[field].data)
        except ValidationError as exc:
            errors.update(_messages(exc))
    if errors:
        typed = form.typed()
        values = {
            "car_model": typed["car_model"][:20] or "none",
            "purpose": typed["purpose"],
            "party_size": typed["party_size"][:5],
        }
        return _interest_page(values, errors, status=422)
    _save(
        state,
        car_model=clean["car_model"] if clean["car_model"] is not None else "none",
        purpose=clean["purpose"],
        party_size=clean["party_size"],
    )
    return redirect(url_for("kiosk.consent"), 303)


def _car_models() -> list[CarModelChoice]:
    kiosk = current_kiosk()
    assert kiosk is not None
    return car_models(db.session(), kiosk.store_id)


def _interest_page(
    values: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    state = _state() or {}
    return _page(
        "kiosk/interest.html",
        status,
        back_url=url_for("kiosk.confirm" if state.get("known") else "kiosk.name"),
        values={**values, "car_model": str(values.get("car_model") or "none")},
        errors=errors or {},
        car_models=_car_models(),
        purposes=PURPOSES,
        max_party=MAX_PARTY,
    )


# --- step 4: privacy notice, consent and the check-in itself -----------------------------------


@bp.route("/consent", methods=["GET", "POST"])
@flow_limit
def consent() -> ResponseReturnValue:
    if request.method == "POST" and session.get(DONE) and _state() is None:
        # A second tap that arrived after the first one finished: show the same result.
        return redirect(url_for("kiosk.done"), 303)
    state, elsewhere = _guard("consent")
    if elsewhere:
        return elsewhere
    assert state is not None
    if request.method == "GET":
        return _page("kiosk/consent.html", notice_version=NOTICE_VERSION)
    kiosk = current_kiosk()
    assert kiosk is not None
    car_model = state.get("car_model")
    try:
        result = check_in(
            db.session(),
            CheckIn(
                store_id=kiosk.store_id,
                mobile=state["mobile"],
                purpose=state.get("purpose", ""),
                party_size=state.get("party_size"),
                surname=state.get("surname"),
                title=state.get("title"),
                car_model_id=None if car_model in (None, "none") else car_model,
                consent=ConsentForm().consent.data,
                notice_version=NOTICE_VERSION,
                idempotency_key=state["key"],
                source=VisitSource.KIOSK.value,
                kiosk_device_id=kiosk.id,
                timezone=kiosk.timezone,
            ),
            utcnow(),
        )
    except ValidationError as exc:
        # Something changed since the step was answered (a car model was withdrawn, ...):
        # send the visitor back to that step with the message. Nothing was saved.
        return _back_to_step(state, exc)
    session.pop(STATE, None)
    session[DONE] = {
        "consultant": result.consultant_name,
        "queue": result.queue_position,
        "returning": result.returning,
    }
    return redirect(url_for("kiosk.done"), 303)


def _back_to_step(state: dict[str, Any], exc: ValidationError) -> ResponseReturnValue:
    errors = _messages(exc)
    if "mobile" in errors:
        number = state.pop("mobile", "")
        _save(state)
        return _mobile_page(number, errors, status=422)
    if "surname" in errors or "title" in errors:
        surname, title = state.pop("surname", ""), state.pop("title", None)
        state.pop("known", None)
        _save(state)
        return _name_page(surname, title, errors, status=422)
    values = {
        "car_model": state.get("car_model", "none"),
        "purpose": state.pop("purpose", None),
        "party_size": state.get("party_size", 1),
    }
    _save(state)
    return _interest_page(values, errors, status=422)


@bp.route("/done")
def done() -> ResponseReturnValue:
    """Shown once, right after the check-in: a reload or a later visit gets the welcome screen."""
    outcome = session.pop(DONE, None)
    if not isinstance(outcome, dict):
        return redirect(url_for("kiosk.welcome"))
    idle = min(int(setting("KIOSK_DONE_SECONDS")), int(setting("KIOSK_IDLE_SECONDS")))
    return _page("kiosk/done.html", idle=idle, outcome=outcome)


# --- enrolment by a member of staff ------------------------------------------------------------


@bp.route("/enrol", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def enrol() -> ResponseReturnValue:
    """A member of staff enrols this browser as a kiosk of their store.

    The staff password is checked, but the browser is not signed in to the console: the
    session is cleared and only the device cookie is set.
    """
    form = EnrolForm()
    username = form.username.typed()[:64]
    device_name = form.name.typed()[:200]
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        now = utcnow()
        try:
            identity = verify_credentials(db.session(), username, form.password.data, now)
            token = kiosks.enrol(
                db.session(),
                store_id=identity.store_id,
                name=device_name,
                role=identity.role,
                user_id=identity.id,
            )
        except TooManyAttempts as exc:
            errors["form"], status = _(exc.message, **exc.params), 429
        except AuthenticationFailed as exc:
            errors["form"], status = _(exc.message), 401
            keep(lambda s: record_failure(s, username, now))
        except PermissionDenied as exc:
            errors["form"], status = _(exc.message), 403
        except ValidationError as exc:
            errors, status = _messages(exc), 422
        else:
            session.clear()
            response = redirect(url_for("kiosk.welcome"), 303)
            response.set_cookie(
                KIOSK_COOKIE,
                token,
                max_age=KIOSK_COOKIE_MAX_AGE,
                path="/",
                httponly=True,
                samesite="Lax",
                secure=request.is_secure,
            )
            return response
    return _page(
        "kiosk/enrol.html",
        status,
        idle=0,
        username=username,
        device_name=device_name,
        errors=errors,
    )


# --- errors: a kiosk page with a way back to the start, never a console link -------------------


def _error_context(status: int) -> dict[str, Any]:
    retry_url = None
    if status == 503:
        # The database is away: what the visitor typed stays (it lives in the session cookie),
        # and the page comes back to their step by itself once the service answers again.
        on_kiosk = request.path.startswith(bp.url_prefix or "/kiosk")
        retry_url = request.path if on_kiosk else url_for("kiosk.welcome")
    elif status >= 500:
        session.pop(STATE, None)  # start afresh rather than trip over the same state again
    return {
        **kiosk_context(),
        "idle_seconds": int(setting("KIOSK_IDLE_SECONDS")),
        "retry_url": retry_url,
        "health_url": url_for("web.healthz"),
    }


error_area(
    bp,
    ErrorArea(
        template="kiosk/error.html",
        texts={
            400: (
                _l("The form has expired"),
                _l("The page was open too long or was sent twice. Please start again."),
            ),
            403: (_l("Not allowed"), _l("This is not available on the check-in screen.")),
            404: (_l("Page not found"), _l("There is no page at this address.")),
            405: (_l("Not allowed"), _l("This is not available on the check-in screen.")),
            429: (_l("Too many attempts"), _l("Please wait a minute and try again.")),
            500: (
                _l("Something went wrong"),
                _l("Please start again, or ask at the reception desk."),
            ),
            503: (
                _l("The check-in is not available right now"),
                _l("Please ask at the reception desk, or try again in a minute."),
            ),
        },
        not_found=(_l("Page not found"), _l("There is no page at this address.")),
        public=True,
        context=_error_context,
    ),
)


@bp.route("/<path:anything>")
def unknown(anything: str) -> ResponseReturnValue:
    abort(404)

"""Reception: today's visitors live, the manual check-in, reassigning, why a visitor went where
they went; and the consultant's side: presence, arrivals, starting and ending a reception."""

from __future__ import annotations

import secrets
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup

from console.auth import roles
from console.blueprint import bp
from console.forms import PresenceForm, ReassignVisitForm, ReceptionCheckInForm
from core.checkin import floor, screens
from core.checkin import service as checkin
from core.checkin.models import Visit
from core.db import utcnow
from core.dispatch import authority
from core.enums import (
    OpportunityStatus,
    Presence,
    Role,
    VisitPurpose,
    VisitSource,
    VisitStatus,
)
from core.errors import DomainError, ValidationError
from core.phone import normalise_mobile
from core.stores.service import CarModelChoice, car_models
from extensions import db
from web.labels import customer_name, label
from web.lobby import Live, live
from web.refusals import redirect_on_refusal

DESK = (Role.CS_AGENT, Role.MANAGER)
NOTE_MAX = 200
OPEN = (VisitStatus.WAITING.value, VisitStatus.ASSIGNED.value)  # may be reassigned or left
LATE_MINUTES = 10  # a wait this long is shown in warning colour

# The rows of the reception page, in this order: (key, statuses, heading).
GROUPS = (
    ("waiting", (VisitStatus.WAITING,), _l("Waiting")),
    ("with_consultant", (VisitStatus.ASSIGNED, VisitStatus.IN_RECEPTION), _l("With a consultant")),
    ("finished", (VisitStatus.FINISHED,), _l("Reception finished")),
    ("left", (VisitStatus.LEFT,), _l("Left without reception")),
)

# The domain speaks to the visitor at the kiosk; at the desk the receptionist reads the message.
DESK_MESSAGES = {
    "Enter your surname.": _l("Enter the visitor's surname."),
    "Choose why you came today.": _l("Choose the purpose of the visit."),
    "Choose how many of you came (1 to 20).": _l("Enter how many people came (1 to 20)."),
}
# Where each field's error sends the focus from the summary at the top of the form.
FIELD_ANCHORS = {
    "mobile": "mobile",
    "surname": "surname",
    "title": "title-mr",
    "car_model": "car_model",
    "purpose": "purpose-look",
    "party_size": "party_size",
}


def _message(msgid: str) -> str:
    return str(DESK_MESSAGES.get(msgid) or _(msgid))


def _first_message(exc: DomainError) -> str:
    """A refusal's text at the desk: the first field's message, else the error's own."""
    if isinstance(exc, ValidationError) and exc.errors:
        return _message(next(iter(exc.errors.values())))
    return _(exc.message, **exc.params)


# --- the reception page ------------------------------------------------------------------------


def _visits_live() -> Live:
    now = utcnow()
    rows = screens.todays_visits(db.session(), current_user.store_id, now, current_user.timezone)
    groups = [
        (key, heading, [r for r in rows if r.status in statuses])
        for key, statuses, heading in GROUPS
    ]
    return live(
        "console/_reception_visits.html",
        "visits-sig",
        groups=groups,
        now=now,
        late=LATE_MINUTES,
    )


@bp.route("/reception")
@roles(*DESK)
def reception() -> ResponseReturnValue:
    return render_template("console/reception.html", visits=_visits_live())


@bp.route("/reception/live")
@roles(*DESK)
def reception_live() -> ResponseReturnValue:
    """The visitors' tables, polled by the reception page."""
    return _visits_live().response()


# --- manual check-in ---------------------------------------------------------------------------


def _car_models() -> list[CarModelChoice]:
    return car_models(db.session(), current_user.store_id)


def _known(mobile: str) -> checkin.KnownVisitor | None:
    try:
        return checkin.lookup_visitor(db.session(), current_user.store_id, mobile)
    except ValidationError:
        return None


def _check_in_form(form: dict[str, str], errors: dict[str, str], status: int = 200) -> Any:
    known = _known(form["mobile"]) if form.get("mobile") else None
    return (
        render_template(
            "console/reception_check_in.html",
            form=form,
            errors=errors,
            anchors=FIELD_ANCHORS,
            known=known,
            car_models=_car_models(),
            purposes=[p.value for p in VisitPurpose],
            notice_version=checkin.NOTICE_VERSION,
        ),
        status,
    )


@bp.route("/reception/check-in", methods=["GET", "POST"])
@roles(*DESK)
def reception_check_in() -> ResponseReturnValue:
    """Check in a visitor who does not use the kiosk: the kiosk's rules, recorded by the desk."""
    if request.method == "GET":
        blank = {"party_size": "1", "car_model": "none", "key": secrets.token_hex(16)}
        return _check_in_form(blank, {})
    posted = ReceptionCheckInForm()
    form = {name: value.strip() for name, value in posted.typed().items()}
    syntax = {} if posted.validate() else posted.messages()
    try:  # core's messages too, with what could be read: every message at once
        result = checkin.check_in(
            db.session(),
            checkin.CheckIn(
                store_id=current_user.store_id,
                mobile=posted.mobile.data or "",
                purpose=posted.purpose.data or "",
                party_size=posted.party_size.data,
                surname=posted.surname.data,
                title=posted.title.data,
                car_model_id=posted.car_model.data,
                consent=posted.consent.data,
                idempotency_key=(posted.key.data or "")[:64] or None,
                source=VisitSource.RECEPTION.value,
                recorded_by=current_user.id,
                timezone=current_user.timezone,
            ),
            utcnow(),
        )
        if syntax:  # core found nothing else wrong: still refuse what could not be read
            raise ValidationError({})
    except ValidationError as exc:
        db.session.rollback()
        found = {**{k: _message(v) for k, v in exc.errors.items()}, **syntax}
        order = [*FIELD_ANCHORS, *found]  # the summary lists them in the form's order
        errors = {name: found[name] for name in order if name in found}
        return _check_in_form(form, errors, 422)
    known = _known(form["mobile"])
    name = customer_name(known.surname, known.title) if known else ""
    # A double tap gets the first check-in's result (result.duplicate): the same message.
    if result.consultant_name:
        flash(
            _(
                "%(name)s is checked in. %(consultant)s will receive them.",
                name=name,
                consultant=result.consultant_name,
            ),
            "success",
        )
    else:
        flash(
            _(
                "%(name)s is checked in and waits as number %(position)s in the queue.",
                name=name,
                position=result.queue_position,
            ),
            "success",
        )
    return redirect(url_for("console.reception"))


@bp.route("/reception/lookup", methods=["POST"])
@roles(*DESK)
def reception_lookup() -> ResponseReturnValue:
    """While the mobile is typed: is this a returning customer? (the masked number only)

    A POST: the number travels in the body, never in a URL that an access log, the browser's
    history or a proxy would keep."""
    mobile = request.form.get("mobile", "").strip()
    valid = True
    try:
        normalise_mobile(mobile)
    except ValidationError:
        valid = False
    known = _known(mobile) if valid else None
    return render_template("console/_reception_lookup.html", known=known, valid=valid)


# --- one visit: why it went where it went, reassign, left --------------------------------------


def _visit_page(
    visit_id: int, *, form: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> Any:
    row, explanations = screens.explain_visit(db.session(), current_user.store_id, visit_id)
    pool = authority.candidates(db.session(), current_user.store_id) if row.status in OPEN else []
    pool = [c for c in pool if c.active and c.user_id != row.consultant_id]
    rank = {Presence.ON_DUTY.value: 0, Presence.ON_BREAK.value: 1, Presence.OFF_DUTY.value: 2}
    pool.sort(key=lambda c: (rank.get(c.presence, 3), c.busy, c.load >= c.cap, c.name))
    return (
        render_template(
            "console/visit_explain.html",
            row=row,
            explanations=explanations,
            pool=pool,
            can_change=row.status in OPEN,
            form=form or {},
            errors=errors or {},
            note_max=NOTE_MAX,
            now=utcnow(),
        ),
        422 if errors else 200,
    )


@bp.route("/reception/visits/<int:visit_id>")
@roles(*DESK)
def reception_visit(visit_id: int) -> ResponseReturnValue:
    return _visit_page(visit_id)


def _to_visit(visit_id: int) -> str:
    return url_for("console.reception_visit", visit_id=visit_id)


def _to_home(**_: Any) -> str:
    return url_for("console.home")


@bp.route("/reception/visits/<int:visit_id>/reassign", methods=["POST"])
@roles(*DESK)
@redirect_on_refusal(_to_visit)
def reception_reassign(visit_id: int) -> ResponseReturnValue:
    posted = ReassignVisitForm()
    form = {name: value.strip() for name, value in posted.typed().items()}
    errors = {} if posted.validate() else posted.messages()
    if len(form["note"]) > NOTE_MAX:
        errors["note"] = _("A note has at most %(max)s characters.", max=NOTE_MAX)
    if errors:
        return _visit_page(visit_id, form=form, errors=errors)
    assert posted.consultant.data is not None
    try:
        floor.reassign_visit(
            db.session(),
            current_user.store_id,
            visit_id,
            posted.consultant.data,
            current_user.id,
            utcnow(),
            note=posted.note.data,
        )
    except ValidationError as exc:
        db.session.rollback()
        errors = {"consultant": _message(next(iter(exc.errors.values())))}
        return _visit_page(visit_id, form=form, errors=errors)
    row, _explanations = screens.explain_visit(db.session(), current_user.store_id, visit_id)
    flash(
        _(
            "%(name)s was sent to %(consultant)s.",
            name=customer_name(row.surname, row.title),
            consultant=row.consultant,
        ),
        "success",
    )
    return redirect(url_for("console.reception"))


@bp.route("/reception/visits/<int:visit_id>/left", methods=["POST"])
@roles(*DESK)
@redirect_on_refusal(_to_visit)
def reception_left(visit_id: int) -> ResponseReturnValue:
    floor.mark_left(db.session(), current_user.store_id, visit_id, current_user.id, utcnow())
    flash(_("The visitor was marked as left without reception."), "success")
    return redirect(url_for("console.reception"))


# --- the consultant: presence and arrivals -----------------------------------------------------


def my_presence() -> str:
    """The signed-in consultant's presence (on_duty / on_break / off_duty)."""
    pool = authority.candidates(db.session(), current_user.store_id)
    me = next((c for c in pool if c.user_id == current_user.id), None)
    return me.presence if me else Presence.OFF_DUTY.value


def arrivals_live() -> tuple[Live, int]:
    """The consultant's arrivals panel, and how many of them wait for a reception to start."""
    rows = screens.my_arrivals(db.session(), current_user.store_id, current_user.id)
    panel = live("console/_arrivals.html", "arrivals-sig", arrivals=rows, now=utcnow())
    return panel, sum(1 for r in rows if r.status == VisitStatus.ASSIGNED)


@bp.route("/presence", methods=["POST"])
@roles(Role.CONSULTANT)
@redirect_on_refusal(_to_home, message=_first_message)
def presence() -> ResponseReturnValue:
    form = PresenceForm()
    value = form.presence.data or "" if form.validate() else ""
    handed = floor.set_presence(
        db.session(), current_user.store_id, current_user.id, value, utcnow()
    )
    flash(_("Your status: %(presence)s.", presence=label("presence", value)), "success")
    if handed:
        flash(_("A waiting visitor was given to a consultant."), "info")
    return redirect(url_for("console.home"))


@bp.route("/arrivals")
@roles(Role.CONSULTANT)
def arrivals() -> ResponseReturnValue:
    """My arrivals, polled by the consultant's start page."""
    panel, new = arrivals_live()
    # When the panel changes, the live region outside it tells screen-reader users (out of band).
    text = (
        ngettext("%(num)d new visitor for you", "%(num)d new visitors for you", new) if new else ""
    )
    announcement = Markup('<p id="arrivals-status" hx-swap-oob="innerHTML">{}</p>').format(text)
    return panel.response(announcement)


@bp.route("/arrivals/<int:visit_id>/start", methods=["POST"])
@roles(Role.CONSULTANT)
@redirect_on_refusal(_to_home)
def arrival_start(visit_id: int) -> ResponseReturnValue:
    floor.start_reception(db.session(), current_user.store_id, current_user.id, visit_id, utcnow())
    flash(_("Reception started."), "success")
    return redirect(url_for("console.home"))


@bp.route("/arrivals/<int:visit_id>/end", methods=["POST"])
@roles(Role.CONSULTANT)
@redirect_on_refusal(_to_home)
def arrival_end(visit_id: int) -> ResponseReturnValue:
    floor.end_reception(db.session(), current_user.store_id, current_user.id, visit_id, utcnow())
    flash(_("Reception ended."), "success")
    # a first reception: straight on to its outcome (an order, or intent and the analysis)
    ended = db.session.get(Visit, visit_id)
    opportunity = ended.opportunity if ended is not None else None
    if (
        opportunity is not None
        and opportunity.grade is None
        and opportunity.status == OpportunityStatus.OPEN.value
        and opportunity.owner_id == current_user.id
    ):
        return redirect(url_for("console.outcome", opportunity_id=opportunity.id))
    return redirect(url_for("console.home"))

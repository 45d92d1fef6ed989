"""Console pages shared by the roles: start page, customers, team, staff, system."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from console import reception
from console.auth import roles, user_today, viewer
from console.blueprint import bp
from console.forms import ReasonForm
from core.analytics import dashboard
from core.db import utcnow
from core.dispatch import authority
from core.dispatch.team import consultant_loads
from core.enums import JobKind, Presence, Role
from core.errors import DomainError, ValidationError
from core.nightly import jobruns
from core.opportunities import access
from core.opportunities.customers import customer_profile, lift_do_not_contact, search_customers
from core.opportunities.myday import my_day
from core.stores.staff import list_staff
from extensions import db
from jobs import send_after_commit
from web.forms import page_number
from web.refusals import redirect_on_refusal

STAFF = (Role.CS_AGENT, Role.CONSULTANT, Role.MANAGER, Role.ADMIN)
CUSTOMER_ROLES = (Role.CS_AGENT, Role.CONSULTANT, Role.MANAGER)


@bp.route("/")
@roles(*STAFF)
def home() -> ResponseReturnValue:
    today = user_today()
    store = dashboard.store_today(db.session(), current_user.store_id, today, current_user.timezone)
    day = None
    team = None
    presence = arrivals = None
    if current_user.role == Role.CONSULTANT:
        day = my_day(
            db.session(), current_user.store_id, current_user.id, today, current_user.timezone
        )
        presence = reception.my_presence()
        arrivals, _new = reception.arrivals_live()
    night = None
    if current_user.role in (Role.MANAGER, Role.CS_AGENT):
        team = consultant_loads(db.session(), current_user.store_id)
        night = jobruns.night_alert(
            db.session(), current_user.store_id, utcnow(), current_user.timezone
        )
    runs = jobruns.recent(db.session(), current_user.store_id, limit=5)
    return render_template(
        "console/home.html",
        today=today,
        store=store,
        day=day,
        team=team,
        runs=runs,
        presence=presence,
        presences=[p.value for p in (Presence.ON_DUTY, Presence.ON_BREAK, Presence.OFF_DUTY)],
        arrivals=arrivals,
        night=night,
    )


@bp.route("/customers")
@roles(*CUSTOMER_ROLES)
def customers() -> ResponseReturnValue:
    query = request.args.get("q", "").strip()[:20]
    page = page_number(request.args.get("page"))
    # A consultant searches their own book; customer service and managers the whole store.
    result = search_customers(db.session(), viewer(), utcnow(), query, page=page)
    return render_template("console/customers.html", result=result, query=query)


@bp.route("/customers/<int:customer_id>")
@roles(*CUSTOMER_ROLES)
def customer(customer_id: int) -> ResponseReturnValue:
    profile = customer_profile(db.session(), viewer(), customer_id, utcnow())
    return render_template("console/customer.html", profile=profile)


def _customer_with_errors(
    customer_id: int, exc: DomainError, form: ReasonForm, where: str, status: int = 422
) -> ResponseReturnValue:
    """The customer page again, with the message next to the reason that was refused."""
    db.session.rollback()
    profile = customer_profile(db.session(), viewer(), customer_id, utcnow())
    if isinstance(exc, ValidationError):
        message = _(next(iter(exc.errors.values()), ""))
    else:
        message = _(exc.message, **exc.params)
    return (
        render_template(
            "console/customer.html",
            profile=profile,
            errors={where: message},
            typed={where: form.reason.data},
        ),
        status,
    )


@bp.route("/customers/<int:customer_id>/reveal", methods=["POST"])
@roles(*CUSTOMER_ROLES)
def reveal(customer_id: int) -> ResponseReturnValue:
    """The full number, under the need-to-know rule (a manager writes why)."""
    form = ReasonForm()
    form.validate()
    try:
        mobile = access.reveal_mobile(
            db.session(), viewer(), customer_id, utcnow(), reason=form.reason.data
        )
    except ValidationError as exc:
        return _customer_with_errors(customer_id, exc, form, "reveal")
    except access.TooManyReveals as exc:
        return _customer_with_errors(customer_id, exc, form, "reveal", 429)
    profile = customer_profile(db.session(), viewer(), customer_id, utcnow())
    return render_template("console/customer.html", profile=profile, revealed_mobile=mobile)


@bp.route("/customers/<int:customer_id>/declines/<int:decline_id>/lift", methods=["POST"])
@roles(Role.MANAGER)
@redirect_on_refusal(lambda customer_id, **_: url_for("console.customer", customer_id=customer_id))
def lift_decline(customer_id: int, decline_id: int) -> ResponseReturnValue:
    form = ReasonForm()
    form.validate()
    try:
        authority.lift_decline(
            db.session(),
            current_user.store_id,
            decline_id,
            current_user.id,
            form.reason.data or "",
            utcnow(),
        )
    except ValidationError as exc:
        return _customer_with_errors(customer_id, exc, form, f"decline-{decline_id}")
    flash(_("The decline is lifted: this consultant may have the customer again."), "success")
    return redirect(url_for("console.customer", customer_id=customer_id))


@bp.route("/customers/<int:customer_id>/contact-again", methods=["POST"])
@roles(Role.MANAGER, Role.CS_AGENT)
@redirect_on_refusal(lambda customer_id, **_: url_for("console.customer", customer_id=customer_id))
def contact_again(customer_id: int) -> ResponseReturnValue:
    form = ReasonForm()
    form.validate()
    try:
        lift_do_not_contact(
            db.session(),
            current_user.store_id,
            customer_id,
            current_user.id,
            form.reason.data or "",
            utcnow(),
        )
    except ValidationError as exc:
        return _customer_with_errors(customer_id, exc, form, "contact-again")
    flash(_("The customer may be contacted again."), "success")
    return redirect(url_for("console.customer", customer_id=customer_id))


@bp.route("/team")
@roles(Role.MANAGER)
def team() -> ResponseReturnValue:
    return render_template(
        "console/team.html", team=consultant_loads(db.session(), current_user.store_id)
    )


@bp.route("/staff")
@roles(Role.ADMIN, Role.MANAGER)
def staff() -> ResponseReturnValue:
    store_id = current_user.store_id
    return render_template(
        "console/staff.html",
        staff=list_staff(db.session(), store_id),
        reveals=access.reveals_by_person(db.session(), store_id, utcnow() - timedelta(days=7)),
        reveal_limit=access.REVEALS_PER_HOUR,
    )


@bp.route("/nightly", methods=["GET", "POST"])
@roles(Role.MANAGER, Role.ADMIN)
def nightly() -> ResponseReturnValue:
    """The last 30 nightly runs; a manager can start tonight's work now."""
    if request.method == "POST":
        today = user_today()
        run_id = jobruns.create(
            db.session(),
            JobKind.NIGHTLY,
            store_id=current_user.store_id,
            run_on=today,
            requested_by=current_user.id,
        )
        send_after_commit(db.session(), run_id)
        flash(_("The nightly run was started. It is safe to run it again."), "success")
        return redirect(url_for("console.nightly"))
    runs = jobruns.recent(db.session(), current_user.store_id, limit=30, kind=JobKind.NIGHTLY)
    return render_template("console/nightly.html", runs=runs)


@bp.route("/system", methods=["GET", "POST"])
@roles(Role.ADMIN)
def system() -> ResponseReturnValue:
    if request.method == "POST":
        run_id = jobruns.create(
            db.session(),
            JobKind.PROBE,
            store_id=current_user.store_id,
            requested_by=current_user.id,
        )
        send_after_commit(db.session(), run_id)
        flash(_("A test job was sent to the worker."), "success")
        return redirect(url_for("console.system"))
    runs = jobruns.recent(db.session(), current_user.store_id, limit=30)
    return render_template("console/system.html", runs=runs)

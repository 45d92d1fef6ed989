"""The consultant's work on one opportunity: the reception outcome (an order or intent), the
needs analysis, follow-ups and invitations, a defeat; and revealing a customer's number."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from console import reception
from console.auth import roles, user_today, viewer
from console.blueprint import bp
from console.forms import DefeatForm, FollowUpForm, OrderForm, assess_form
from core.db import utcnow
from core.enums import ASSESSABLE, ActivityKind, DefeatReason, Role
from core.errors import ValidationError
from core.opportunities import access
from core.opportunities import actions as opportunities
from core.opportunities.models import Customer, Opportunity
from core.rules.rulesets import current_rules
from core.scoping import get_in_store
from core.stores.service import car_models
from core.timeutil import local_moment
from extensions import db
from web.forms import ScreenForm
from web.refusals import redirect_on_refusal

CUSTOMER_ROLES = (Role.CS_AGENT, Role.CONSULTANT, Role.MANAGER)


def _errors(exc: ValidationError) -> dict[str, str]:
    return {field: _(message) for field, message in exc.errors.items()}


def _to_customer(opportunity_id: int, **_: Any) -> str:
    """Where a refused action on an opportunity goes: its customer (another store's is a 404)."""
    found = get_in_store(db.session(), Opportunity, opportunity_id, current_user.store_id)
    return url_for("console.customer", customer_id=found.customer_id)


def _owned(view: Callable[..., Any]) -> Callable[..., Any]:
    """Open the view only on an open opportunity the signed-in consultant owns (core's rule),
    passing it and its customer; a refusal (see ``_to_customer``) sends the consultant to the
    customer with the reason."""

    @wraps(view)
    @redirect_on_refusal(_to_customer)
    def wrapper(opportunity_id: int) -> Any:
        opportunity = opportunities.owned_open(
            db.session(), current_user.store_id, opportunity_id, current_user.id
        )
        return view(opportunity, opportunity.customer)

    return wrapper


def _page(
    template: str,
    opportunity: Opportunity,
    customer: Customer,
    form: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Any:
    """A form about one opportunity, with what was typed and the messages next to the fields."""
    context = FORM_CONTEXT[template](opportunity)
    return (
        render_template(
            template,
            opportunity=opportunity,
            customer=customer,
            form=form,
            errors=errors,
            **context,
        ),
        status,
    )


# --- the first reception's outcome: bought today, or intent ------------------------------------


def _outcome_context(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "car_models": car_models(db.session(), current_user.store_id),
        "arrivals": reception.arrivals_live()[0],
    }


@bp.route("/opportunities/<int:opportunity_id>/outcome")
@roles(Role.CONSULTANT)
@_owned
def outcome(opportunity: Opportunity, customer: Customer) -> ResponseReturnValue:
    form = {"car_model": str(opportunity.car_model_id or ""), "deposit": "", "note": ""}
    return _page("console/outcome.html", opportunity, customer, form, {})


@bp.route("/opportunities/<int:opportunity_id>/order", methods=["POST"])
@roles(Role.CONSULTANT)
@_owned
def order(opportunity: Opportunity, customer: Customer) -> ResponseReturnValue:
    posted = OrderForm()
    form = _typed(posted)
    syntax = {} if posted.validate() else posted.messages()
    try:  # core's messages too, with what could be read: every message at once
        opportunities.record_order(
            db.session(),
            current_user.store_id,
            opportunity.id,
            current_user.id,
            utcnow(),
            car_model_id=posted.car_model.data,
            deposit=posted.deposit.data,
            note=posted.note.data,
        )
        if syntax:  # core found nothing else wrong: still refuse what could not be read
            raise ValidationError({})
    except ValidationError as exc:
        db.session.rollback()
        errors = {**_errors(exc), **syntax}
        return _page("console/outcome.html", opportunity, customer, form, errors, 422)
    flash(_("Order recorded. Congratulations!"), "success")
    return redirect(url_for("console.customer", customer_id=customer.id))


# --- needs analysis -----------------------------------------------------------------------------


def _assess_context(opportunity: Opportunity) -> dict[str, Any]:
    rules = current_rules(db.session(), current_user.store_id)
    return {
        "indicators": rules.scoring["indicators"],
        "grades": [g.value for g in ASSESSABLE],
    }


@bp.route("/opportunities/<int:opportunity_id>/assess", methods=["GET", "POST"])
@roles(Role.CONSULTANT)
@_owned
def assess(opportunity: Opportunity, customer: Customer) -> ResponseReturnValue:
    if request.method == "GET":
        return _page("console/assess.html", opportunity, customer, {"answers": {}}, {})
    rules = current_rules(db.session(), current_user.store_id)
    posted = assess_form(i["key"] for i in rules.scoring["indicators"])
    typed = _typed(posted)
    answers = posted.answers()
    form = {
        "answers": answers,
        "override_grade": typed["override_grade"],
        "override_reason": typed["override_reason"],
    }
    try:  # the answers and the override grade are core's to check (the store's scoring)
        result = opportunities.assess(
            db.session(),
            current_user.store_id,
            opportunity.id,
            current_user.id,
            answers,
            utcnow(),
            override_grade=posted.override_grade.data,
            override_reason=posted.override_reason.data,
        )
    except ValidationError as exc:
        return _page("console/assess.html", opportunity, customer, form, _errors(exc), 422)
    return redirect(
        url_for(
            "console.assessment",
            opportunity_id=opportunity.id,
            assessment_id=result.assessment_id,
        )
    )


@bp.route("/opportunities/<int:opportunity_id>/assessments/<int:assessment_id>")
@roles(*CUSTOMER_ROLES)
def assessment(opportunity_id: int, assessment_id: int) -> ResponseReturnValue:
    """One needs analysis with its score breakdown: where the consultant lands after grading
    (so a reload does not grade again), and what a manager opens to check an override."""
    detail = opportunities.assessment_detail(
        db.session(), current_user.store_id, opportunity_id, assessment_id
    )
    customer = access.open_assessment_customer(
        db.session(), viewer(), detail.customer_id, detail.assessed_by_id, utcnow()
    )
    return render_template("console/assess_result.html", result=detail, customer=customer)


# --- follow-ups and invitations ---------------------------------------------------------------


def _follow_up_context(opportunity: Opportunity) -> dict[str, Any]:
    cycle = current_rules(db.session(), current_user.store_id).cycles.get(opportunity.grade or "")
    return {
        "kinds": [k.value for k in ActivityKind],
        "interval": cycle.follow_up_days if cycle else None,
        "today": user_today(),
    }


def _typed(form: ScreenForm) -> dict[str, str]:
    """What was typed, stripped, as the page shows it again."""
    return {name: value.strip() for name, value in form.typed().items()}


@bp.route("/opportunities/<int:opportunity_id>/follow-up", methods=["GET", "POST"])
@roles(Role.CONSULTANT)
@_owned
def follow_up(opportunity: Opportunity, customer: Customer) -> ResponseReturnValue:
    names = ("kind", "outcome", "next_follow_up_on", "invitation_date", "invitation_time")
    if request.method == "GET":
        form = {name: "" for name in names}
        form["kind"] = request.args.get("kind", "")
        return _page("console/follow_up.html", opportunity, customer, form, {})
    posted = FollowUpForm()
    form = _typed(posted)
    posted.validate()
    # an appointment that cannot be read is not given: core asks for the date and time
    errors = {
        name: message
        for name, message in posted.messages().items()
        if name not in ("invitation_date", "invitation_time")
    }
    invitation_at: datetime | None = None
    day, at = posted.invitation_date.data, posted.invitation_time.data
    if posted.kind.data == ActivityKind.INVITATION.value and day is not None and at is not None:
        invitation_at = local_moment(day, at, current_user.timezone)
    try:
        result = opportunities.log_follow_up(
            db.session(),
            current_user.store_id,
            opportunity.id,
            current_user.id,
            utcnow(),
            kind=posted.kind.data or "",
            outcome=posted.outcome.data,
            next_follow_up_on=posted.next_follow_up_on.data,
            invitation_at=invitation_at,
        )
        if errors:  # core found nothing else wrong: still refuse the unreadable date
            raise ValidationError({})
    except ValidationError as exc:
        db.session.rollback()
        errors = {**_errors(exc), **errors}
        return _page("console/follow_up.html", opportunity, customer, form, errors, 422)
    if result.invitation_id:
        flash(_("Invitation recorded. The customer is expected on the day you chose."), "success")
    else:
        flash(_("Follow-up recorded."), "success")
    if result.next_follow_up_on:
        flash(
            _(
                "Next follow-up: %(date)s",
                date=format_date(result.next_follow_up_on, "medium"),
            ),
            "info",
        )
    return redirect(url_for("console.customer", customer_id=customer.id))


# --- defeat -----------------------------------------------------------------------------------


def _defeat_context(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "reasons": [r.value for r in DefeatReason],
    }


@bp.route("/opportunities/<int:opportunity_id>/defeat", methods=["GET", "POST"])
@roles(Role.CONSULTANT)
@_owned
def defeat(opportunity: Opportunity, customer: Customer) -> ResponseReturnValue:
    names = ("reason", "competitor_brand", "note")
    if request.method == "GET":
        return _page("console/defeat.html", opportunity, customer, {name: "" for name in names}, {})
    posted = DefeatForm()
    form = _typed(posted)
    try:
        opportunities.record_defeat(
            db.session(),
            current_user.store_id,
            opportunity.id,
            current_user.id,
            utcnow(),
            reason=posted.reason.data or "",
            competitor_brand=posted.competitor_brand.data,
            note=posted.note.data,
        )
    except ValidationError as exc:
        return _page("console/defeat.html", opportunity, customer, form, _errors(exc), 422)
    flash(_("Defeat recorded. Customer service will call the customer tomorrow."), "success")
    return redirect(url_for("console.customer", customer_id=customer.id))


FORM_CONTEXT: dict[str, Callable[[Opportunity], dict[str, Any]]] = {
    "console/outcome.html": _outcome_context,
    "console/assess.html": _assess_context,
    "console/follow_up.html": _follow_up_context,
    "console/defeat.html": _defeat_context,
}

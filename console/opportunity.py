"""The consultant's work on one opportunity: the reception outcome (an order or intent), the
needs analysis, follow-ups and invitations, a defeat; and revealing a customer's number."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from console import bp, reception
from console.auth import roles
from core import opportunities
from core.customers import customer_profile, reveal_mobile
from core.db import utcnow
from core.enums import ASSESSABLE, ActivityKind, DefeatReason, Role
from core.errors import DomainError, NotFound, ValidationError
from core.models import Customer, Opportunity
from core.rules import current_rules
from core.scoping import get_in_store
from core.stores import car_models
from core.timeutil import local_date, local_moment
from extensions import db
from web.refusals import refuse

CUSTOMER_ROLES = (Role.CS_AGENT, Role.CONSULTANT, Role.MANAGER)


def _errors(exc: ValidationError) -> dict[str, str]:
    return {field: _(message) for field, message in exc.errors.items()}


def _mine(opportunity_id: int) -> tuple[Opportunity, Customer] | Any:
    """The opportunity, if it is open and the signed-in consultant owns it (core's rule);
    otherwise the redirect that explains why not. Another store's record is a 404."""
    try:
        opportunity = opportunities.owned_open(
            db.session, current_user.store_id, opportunity_id, current_user.id
        )
    except NotFound:
        raise
    except DomainError as exc:
        customer = get_in_store(db.session, Opportunity, opportunity_id, current_user.store_id)
        refuse(exc)
        return redirect(url_for("console.customer", customer_id=customer.customer_id))
    return opportunity, opportunity.customer


def _domain_refusal(exc: DomainError, customer_id: int) -> Any:
    if isinstance(exc, NotFound):
        raise exc
    refuse(exc)
    return redirect(url_for("console.customer", customer_id=customer_id))


# --- the first reception's outcome: bought today, or intent ------------------------------------


def _outcome_page(
    opportunity: Opportunity,
    customer: Customer,
    form: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Any:
    return (
        render_template(
            "console/outcome.html",
            opportunity=opportunity,
            customer=customer,
            car_models=car_models(db.session, current_user.store_id),
            form=form,
            errors=errors,
            arrivals=reception.arrivals_live()[0],
        ),
        status,
    )


@bp.route("/opportunities/<int:opportunity_id>/outcome")
@roles(Role.CONSULTANT)
def outcome(opportunity_id: int):  # type: ignore[no-untyped-def]
    found = _mine(opportunity_id)
    if not isinstance(found, tuple):
        return found
    opportunity, customer = found
    form = {"car_model": str(opportunity.car_model_id or ""), "deposit": "", "note": ""}
    return _outcome_page(opportunity, customer, form, {})


@bp.route("/opportunities/<int:opportunity_id>/order", methods=["POST"])
@roles(Role.CONSULTANT)
def order(opportunity_id: int):  # type: ignore[no-untyped-def]
    found = _mine(opportunity_id)
    if not isinstance(found, tuple):
        return found
    opportunity, customer = found
    form = {name: request.form.get(name, "").strip() for name in ("car_model", "deposit", "note")}
    model_id: int | None = None
    errors: dict[str, str] = {}
    if form["car_model"]:
        if form["car_model"].isdigit():
            model_id = int(form["car_model"])
        else:
            errors["car_model"] = _("Choose a car model from the list.")
    try:
        if errors:
            raise ValidationError({})
        opportunities.record_order(
            db.session,
            current_user.store_id,
            opportunity.id,
            current_user.id,
            utcnow(),
            car_model_id=model_id,
            deposit=form["deposit"] or None,
            note=form["note"] or None,
        )
    except ValidationError as exc:
        errors.update(_errors(exc))
        return _outcome_page(opportunity, customer, form, errors, 422)
    except DomainError as exc:
        return _domain_refusal(exc, customer.id)
    flash(_("Order recorded. Congratulations!"), "success")
    return redirect(url_for("console.customer", customer_id=customer.id))


# --- needs analysis -----------------------------------------------------------------------------


def _assess_page(
    opportunity: Opportunity,
    customer: Customer,
    form: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Any:
    rules = current_rules(db.session, current_user.store_id)
    return (
        render_template(
            "console/assess.html",
            opportunity=opportunity,
            customer=customer,
            indicators=rules.scoring["indicators"],
            grades=[g.value for g in ASSESSABLE],
            form=form,
            errors=errors,
        ),
        status,
    )


@bp.route("/opportunities/<int:opportunity_id>/assess", methods=["GET", "POST"])
@roles(Role.CONSULTANT)
def assess(opportunity_id: int):  # type: ignore[no-untyped-def]
    found = _mine(opportunity_id)
    if not isinstance(found, tuple):
        return found
    opportunity, customer = found
    if request.method == "GET":
        return _assess_page(opportunity, customer, {"answers": {}}, {})
    rules = current_rules(db.session, current_user.store_id)
    answers = {
        i["key"]: request.form.get(f"answer-{i['key']}", "") for i in rules.scoring["indicators"]
    }
    form = {
        "answers": answers,
        "override_grade": request.form.get("override_grade", "").strip(),
        "override_reason": request.form.get("override_reason", "").strip(),
    }
    try:
        result = opportunities.assess(
            db.session,
            current_user.store_id,
            opportunity.id,
            current_user.id,
            answers,
            utcnow(),
            override_grade=form["override_grade"] or None,
            override_reason=form["override_reason"] or None,
        )
    except ValidationError as exc:
        return _assess_page(opportunity, customer, form, _errors(exc), 422)
    except DomainError as exc:
        return _domain_refusal(exc, customer.id)
    indicators = {i["key"]: i for i in rules.scoring["indicators"]}
    breakdown = []
    for answer in result.breakdown:
        indicator = indicators[answer.indicator]
        option = next(o for o in indicator["options"] if o["key"] == answer.option)
        breakdown.append((indicator["label"], option["label"], answer.points))
    return render_template(
        "console/assess_result.html",
        opportunity=opportunity,
        customer=customer,
        result=result,
        breakdown=breakdown,
    )


# --- follow-ups and invitations ---------------------------------------------------------------


def _follow_up_page(
    opportunity: Opportunity,
    customer: Customer,
    form: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Any:
    rules = current_rules(db.session, current_user.store_id)
    cycle = rules.cycles.get(opportunity.grade or "")
    return (
        render_template(
            "console/follow_up.html",
            opportunity=opportunity,
            customer=customer,
            kinds=[k.value for k in ActivityKind],
            interval=cycle.follow_up_days if cycle else None,
            today=local_date(utcnow(), current_user.timezone),
            form=form,
            errors=errors,
        ),
        status,
    )


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _parse_time(raw: str) -> time | None:
    try:
        return time.fromisoformat(raw)
    except ValueError:
        return None


@bp.route("/opportunities/<int:opportunity_id>/follow-up", methods=["GET", "POST"])
@roles(Role.CONSULTANT)
def follow_up(opportunity_id: int):  # type: ignore[no-untyped-def]
    found = _mine(opportunity_id)
    if not isinstance(found, tuple):
        return found
    opportunity, customer = found
    names = ("kind", "outcome", "next_follow_up_on", "invitation_date", "invitation_time")
    if request.method == "GET":
        form = {name: "" for name in names}
        form["kind"] = request.args.get("kind", "")
        return _follow_up_page(opportunity, customer, form, {})
    form = {name: request.form.get(name, "").strip() for name in names}
    errors: dict[str, str] = {}
    next_on = None
    if form["next_follow_up_on"]:
        next_on = _parse_date(form["next_follow_up_on"])
        if next_on is None:
            errors["next_follow_up_on"] = _("Enter a date, or leave the field empty.")
    invitation_at: datetime | None = None
    if form["kind"] == ActivityKind.INVITATION.value:
        day = _parse_date(form["invitation_date"])
        at = _parse_time(form["invitation_time"])
        if day is not None and at is not None:
            invitation_at = local_moment(day, at, current_user.timezone)
    try:
        result = opportunities.log_follow_up(
            db.session,
            current_user.store_id,
            opportunity.id,
            current_user.id,
            utcnow(),
            kind=form["kind"],
            outcome=form["outcome"] or None,
            next_follow_up_on=next_on,
            invitation_at=invitation_at,
        )
        if errors:  # core found nothing else wrong: still refuse the unreadable date
            raise ValidationError({})
    except ValidationError as exc:
        db.session.rollback()
        errors = {**_errors(exc), **errors}
        return _follow_up_page(opportunity, customer, form, errors, 422)
    except DomainError as exc:
        return _domain_refusal(exc, customer.id)
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


def _defeat_page(
    opportunity: Opportunity,
    customer: Customer,
    form: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Any:
    return (
        render_template(
            "console/defeat.html",
            opportunity=opportunity,
            customer=customer,
            reasons=[r.value for r in DefeatReason],
            form=form,
            errors=errors,
        ),
        status,
    )


@bp.route("/opportunities/<int:opportunity_id>/defeat", methods=["GET", "POST"])
@roles(Role.CONSULTANT)
def defeat(opportunity_id: int):  # type: ignore[no-untyped-def]
    found = _mine(opportunity_id)
    if not isinstance(found, tuple):
        return found
    opportunity, customer = found
    names = ("reason", "competitor_brand", "note")
    if request.method == "GET":
        return _defeat_page(opportunity, customer, {name: "" for name in names}, {})
    form = {name: request.form.get(name, "").strip() for name in names}
    try:
        opportunities.record_defeat(
            db.session,
            current_user.store_id,
            opportunity.id,
            current_user.id,
            utcnow(),
            reason=form["reason"],
            competitor_brand=form["competitor_brand"] or None,
            note=form["note"] or None,
        )
    except ValidationError as exc:
        return _defeat_page(opportunity, customer, form, _errors(exc), 422)
    except DomainError as exc:
        return _domain_refusal(exc, customer.id)
    flash(_("Defeat recorded. Customer service will call the customer tomorrow."), "success")
    return redirect(url_for("console.customer", customer_id=customer.id))


# --- the full mobile number, on demand and audited ----------------------------------------------


@bp.route("/customers/<int:customer_id>/reveal", methods=["POST"])
@roles(*CUSTOMER_ROLES)
def reveal(customer_id: int):  # type: ignore[no-untyped-def]
    mobile = reveal_mobile(db.session, current_user.store_id, customer_id, current_user.id)
    profile = customer_profile(db.session, current_user.store_id, customer_id)
    return render_template("console/customer.html", profile=profile, revealed_mobile=mobile)

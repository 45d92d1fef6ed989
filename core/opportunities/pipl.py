"""A customer's requests under the Personal Information Protection Law, served at the desk
(DESIGN.md section 5; the kiosk's privacy notice promises them): see everything held about
them, correct their name, title or number, withdraw their consent, be deleted.

Customer service and managers serve them on the customer page; deleting is a manager's. Each
request is on the audit trail with who served it, when and the customer's request in their
words; an audit entry never holds a full number (an old number is kept masked).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core import audit
from core.callbacks.models import CallbackAnswers, CallbackTask
from core.checkin.models import Visit
from core.checkin.service import validate_surname, validate_title
from core.dispatch.models import Assignment, Decline
from core.enums import ConsentChannel, Role
from core.errors import PermissionDenied, ValidationError
from core.i18n import N_
from core.locks import lock_store
from core.opportunities.access import Viewer, open_customer
from core.opportunities.customers import set_do_not_contact
from core.opportunities.erasure import erase
from core.opportunities.models import (
    AssessmentAnswer,
    ConsentRecord,
    Customer,
    FollowUp,
    Invitation,
    NeedsAssessment,
    Opportunity,
)
from core.phone import mask_mobile, normalise_mobile

REQUEST_MAX = 500
SERVES = (Role.CS_AGENT, Role.MANAGER)


_NUMBER = re.compile(r"1[3-9][0-9]{9}")


def _request_text(text: str | None) -> str:
    """The customer's request as staff wrote it, any mobile number in it masked (the audit
    trail never holds a full number)."""
    value = (text or "").strip()
    if not value:
        raise ValidationError({"request": N_("Write what the customer asked for.")})
    if len(value) > REQUEST_MAX:
        raise ValidationError({"request": N_("This text is too long.")})
    return _NUMBER.sub(lambda m: mask_mobile(m.group(0)), value)


def _served(session: Session, viewer: Viewer, customer_id: int, now: datetime) -> Customer:
    if viewer.role not in SERVES:
        raise PermissionDenied(N_("Customer service or a manager serves this request."))
    return open_customer(session, viewer, customer_id, now)


def _plain(row: Any) -> dict[str, Any]:
    """A row as plain values (dates as ISO text)."""
    values = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime | date) else value
    return values


def export(
    session: Session, viewer: Viewer, customer_id: int, now: datetime, request: str | None
) -> dict[str, Any]:
    """Everything held about the customer, as plain values, and the request recorded: their
    profile, consents, opportunities with needs analyses (and answers), follow-ups,
    invitations, visits, callbacks (with answers), assignments and declines."""
    text = _request_text(request)
    customer = _served(session, viewer, customer_id, now)
    opportunity_ids = select(Opportunity.id).where(Opportunity.customer_id == customer.id)
    assessment_ids = select(NeedsAssessment.id).where(
        NeedsAssessment.opportunity_id.in_(opportunity_ids)
    )
    task_ids = select(CallbackTask.id).where(CallbackTask.customer_id == customer.id)

    def rows(model: Any, *conditions: Any) -> list[dict[str, Any]]:
        query = select(model).where(*conditions)
        return [_plain(r) for r in session.scalars(query.order_by(*model.__table__.primary_key))]

    held = {
        "customer": _plain(customer),
        "consents": rows(ConsentRecord, ConsentRecord.customer_id == customer.id),
        "opportunities": rows(Opportunity, Opportunity.customer_id == customer.id),
        "needs_analyses": rows(NeedsAssessment, NeedsAssessment.id.in_(assessment_ids)),
        "needs_analysis_answers": rows(
            AssessmentAnswer, AssessmentAnswer.assessment_id.in_(assessment_ids)
        ),
        "follow_ups": rows(FollowUp, FollowUp.opportunity_id.in_(opportunity_ids)),
        "invitations": rows(Invitation, Invitation.customer_id == customer.id),
        "visits": rows(Visit, Visit.customer_id == customer.id),
        "callbacks": rows(CallbackTask, CallbackTask.customer_id == customer.id),
        "callback_answers": rows(CallbackAnswers, CallbackAnswers.task_id.in_(task_ids)),
        "assignments": rows(
            Assignment,
            or_(
                Assignment.opportunity_id.in_(opportunity_ids),
                Assignment.visit_id.in_(select(Visit.id).where(Visit.customer_id == customer.id)),
            ),
        ),
        "declines": rows(Decline, Decline.customer_id == customer.id),
    }
    _record(session, viewer, customer.id, "pipl.export", now, {"request": text})
    return {"exported_at": now.isoformat(), "store_id": customer.store_id, **held}


def correct(
    session: Session,
    viewer: Viewer,
    customer_id: int,
    now: datetime,
    *,
    surname: str | None,
    title: str | None,
    mobile: str | None,
    request: str | None,
) -> None:
    """Correct the customer's name, title or number at their request (no number: it stays
    as it is). A number already
    another customer's of the store is refused (one customer per person); the audit keeps the
    old and new values, the numbers masked."""
    lock_store(session, viewer.store_id)
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    checks: list[tuple[str, Any, Any]] = [
        ("surname", validate_surname, surname),
        ("title", validate_title, title),
    ]
    if (mobile or "").strip():  # no number given: the number stays
        checks.append(("mobile", normalise_mobile, mobile))
    for field, check, raw in checks:
        try:
            clean[field] = check(raw or "")
        except ValidationError as exc:
            errors.update(exc.errors)
    try:
        text = _request_text(request)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    customer = _served(session, viewer, customer_id, now)
    clean.setdefault("mobile", customer.mobile)
    if clean["mobile"] != customer.mobile and session.scalar(
        select(func.count())
        .select_from(Customer)
        .where(Customer.store_id == customer.store_id, Customer.mobile == clean["mobile"])
    ):
        raise ValidationError(
            {"mobile": N_("This number is another customer's: ask a manager to merge them.")}
        )
    changes = {}
    for field in ("surname", "title", "mobile"):
        old, new = getattr(customer, field), clean[field]
        if old != new:
            shown = (mask_mobile(old), mask_mobile(new)) if field == "mobile" else (old, new)
            changes[field] = list(shown)
            setattr(customer, field, new)
    _record(session, viewer, customer.id, "pipl.corrected", now, {"request": text, **changes})
    session.flush()


def withdraw_consent(
    session: Session, viewer: Viewer, customer_id: int, now: datetime, request: str | None
) -> None:
    """The customer withdraws their consent: never contacted again (do-not-contact, through
    the one place it changes), until they ask for contact again."""
    text = _request_text(request)
    lock_store(session, viewer.store_id)
    customer = _served(session, viewer, customer_id, now)
    set_do_not_contact(session, customer, True, ConsentChannel.RECEPTION, viewer.user_id, now)
    _record(session, viewer, customer.id, "pipl.consent_withdrawn", now, {"request": text})
    session.flush()


def delete(
    session: Session, viewer: Viewer, customer_id: int, now: datetime, request: str | None
) -> None:
    """Erase the customer and everything about them (the same rule as the retention purge).
    A manager's request; the audit keeps only that a customer was deleted, by whom and why."""
    if viewer.role != Role.MANAGER:
        raise PermissionDenied(N_("Only a manager deletes a customer."))
    text = _request_text(request)
    lock_store(session, viewer.store_id)
    customer = _served(session, viewer, customer_id, now)
    erase(session, viewer.store_id, select(Customer.id).where(Customer.id == customer.id))
    session.expunge(customer)
    audit.record(
        session,
        "pipl.deleted",
        store_id=viewer.store_id,
        actor_id=viewer.user_id,
        data={"request": text},
        at=now,
    )


def _record(
    session: Session,
    viewer: Viewer,
    customer_id: int,
    action: str,
    now: datetime,
    data: dict[str, Any],
) -> None:
    audit.record(
        session,
        action,
        store_id=viewer.store_id,
        actor_id=viewer.user_id,
        entity="customer",
        entity_id=customer_id,
        data=data,
        at=now,
    )

"""Check-in and dispatch (DESIGN.md section 3 step 1).

A visitor checks in at the kiosk or at the reception desk. A returning customer is recognised
by mobile number; one who was invited back goes to the consultant of the invitation, one whose
own consultant is on duty goes to them (even at their cap: the customer is already on their
book). Everyone else goes to the next consultant in the day's rotation who is on duty, not busy
with a visitor and below their cap; the rotation starts with whoever has waited longest since
their last walk-in. When nobody fits, the visitor waits and is handed out, in arrival order, as
soon as a consultant frees up.

The consultant who receives a visitor becomes the owner of the customer's open opportunity.
Every dispatch records an assignment with the reason and every candidate's load, cap and the
reason they were passed over. Dispatch runs under the store's lock, so simultaneous check-ins
never push a consultant past the cap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from core.checkin.models import Visit
from core.db import UTCDateTime, expire_loaded, table_of
from core.dispatch.authority import (
    Order,
    OwnerChange,
    apply,
    candidates_statement,
    choose,
    own_consultant,
    owner_columns,
    pool_from_rows,
    preference,
    preferred_note,
    visit_columns,
)
from core.dispatch.models import Assignment, Decline
from core.enums import (
    AssignmentReason,
    ConsentChannel,
    InvitationStatus,
    OpportunityStatus,
    VisitPurpose,
    VisitSource,
    VisitStatus,
)
from core.errors import ValidationError
from core.i18n import N_
from core.locks import lock_store
from core.opportunities.models import ConsentRecord, Customer, Invitation, Opportunity
from core.phone import mask_mobile, normalise_mobile
from core.stores.models import CarModel, ConsultantSettings, User
from core.stores.service import store_timezone
from core.timeutil import day_bounds_utc, local_date

NOTICE_VERSION = "2026-01"
SURNAME_MAX = 10
MAX_PARTY = 20
# Letters of any script, the middle dot of transliterated names, spaces, apostrophes, hyphens.
_SURNAME = re.compile(r"^[^\W\d_]+(?:[ ·'\-][^\W\d_]+)*$")
_MARKUP = re.compile(r"[<>&\"{}]")


# --- recognising a visitor ---------------------------------------------------------------------


@dataclass(frozen=True)
class KnownVisitor:
    """What a public kiosk may show to confirm an identity: never the full number."""

    surname: str
    title: str | None
    masked_mobile: str


def lookup_visitor(session: Session, store_id: int, raw_mobile: str) -> KnownVisitor | None:
    mobile = normalise_mobile(raw_mobile)
    customer = session.scalars(
        select(Customer).where(Customer.store_id == store_id, Customer.mobile == mobile)
    ).first()
    if customer is None:
        return None
    return KnownVisitor(customer.surname, customer.title, mask_mobile(customer.mobile))


# --- validating a check-in ---------------------------------------------------------------------


@dataclass(frozen=True)
class CheckIn:
    store_id: int
    mobile: str
    purpose: str
    party_size: int | None = 1
    surname: str | None = None  # needed for a new customer only
    title: str | None = None
    car_model_id: int | None = None  # None: "not sure yet"
    consent: bool = False
    notice_version: str = NOTICE_VERSION
    idempotency_key: str | None = None
    source: str = VisitSource.KIOSK.value
    kiosk_device_id: int | None = None
    recorded_by: int | None = None
    timezone: str | None = None  # the store's; looked up when not given


def validate_surname(raw: str | None) -> str:
    surname = (raw or "").strip()
    if not surname:
        raise ValidationError({"surname": N_("Enter your surname.")})
    if _MARKUP.search(surname):
        raise ValidationError({"surname": N_('Use letters only: no symbols such as < > & ".')})
    if len(surname) > SURNAME_MAX:
        raise ValidationError({"surname": N_("A surname has at most 10 characters.")})
    if not _SURNAME.match(surname):
        raise ValidationError({"surname": N_("Use letters only: no digits or symbols.")})
    return surname


def validate_title(raw: str | None) -> str:
    if raw not in ("mr", "ms"):
        raise ValidationError({"title": N_("Choose Mr or Ms.")})
    return raw


def validate_party_size(size: int | None) -> int:
    if size is None or not 1 <= size <= MAX_PARTY:
        raise ValidationError({"party_size": N_("Choose how many of you came (1 to 20).")})
    return size


def validate_purpose(raw: str | None) -> str:
    if raw not in {p.value for p in VisitPurpose}:
        raise ValidationError({"purpose": N_("Choose why you came today.")})
    return raw


def validate_car_model(session: Session, store_id: int, model_id: int | None) -> int | None:
    """A model of the store's list, or None for "not sure yet"."""
    if model_id is None:
        return None
    model = session.get(CarModel, model_id)
    if model is None or model.store_id != store_id or not model.active:
        raise ValidationError({"car_model": N_("Choose a car model from the list.")})
    return model_id


# --- checking in -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInResult:
    visit_id: int
    customer_id: int
    consultant_id: int | None
    consultant_name: str | None
    queue_position: int | None  # 1 = next; None when a consultant is coming
    returning: bool
    duplicate: bool = False


def check_in(session: Session, request: CheckIn, now: datetime) -> CheckInResult:
    """Record a visit and dispatch it. One transaction; the caller commits.

    The store is locked first, so the customer, the queue and the loads read here are the ones
    the visit is dispatched against. Everything the check-in needs to know, the consultants'
    loads included, is read in one statement; the decision is made before anything is written.
    The check-in then writes each of its rows once, with the columns dispatch gives a visit and
    an opportunity it hands to a consultant (``owner_columns``, ``visit_columns``: what the
    waiting queue and the desk write too), and dispatch records the assignment. Validation
    happens before anything is written; a repeated idempotency key returns the first result and
    writes nothing.
    """
    lock_store(session, request.store_id)
    errors: dict[str, str] = {}
    try:
        mobile = normalise_mobile(request.mobile)
    except ValidationError as exc:
        errors.update(exc.errors)
        mobile = ""
    timezone = request.timezone or store_timezone(session, request.store_id)
    day_start, day_end = day_bounds_utc(local_date(now, timezone), timezone)
    model_id = request.car_model_id
    found = session.execute(
        _seen_statement(),
        {
            "p_store_id": request.store_id,
            "p_mobile": mobile,
            "p_key": request.idempotency_key or "",
            "p_model_id": model_id if model_id is not None else -1,
            "p_day_start": day_start,
            "p_day_end": day_end,
            "p_default_cap": None,
        },
    ).all()
    seen = found[0]
    if seen.earlier_visit is not None:  # a double tap: the first one has been recorded
        earlier = _by_key(session, request.store_id, request.idempotency_key or "")
        assert earlier is not None
        return earlier
    known = seen.customer_id is not None
    values: dict[str, Any] = {}
    checks: list[tuple[str, Any]] = [
        ("purpose", lambda: validate_purpose(request.purpose)),
        ("party_size", lambda: validate_party_size(request.party_size)),
        ("car_model", lambda: _valid_model(model_id, seen.model_ok)),
    ]
    if not known:
        checks += [
            ("surname", lambda: validate_surname(request.surname)),
            ("title", lambda: validate_title(request.title)),
        ]
    for name, check in checks:
        try:
            values[name] = check()
        except ValidationError as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)

    # The decision, before anything is written: the invitation's consultant, else their own.
    preferred, preferred_reason = preference(
        seen.invitation_consultant_id, seen.invitation_source, seen.own_id
    )
    decision = choose(
        pool_from_rows(found),
        order=Order.ROTATION,
        reason=AssignmentReason.ROTATION.value,
        walk_in=True,
        preferred=preferred,
        preferred_reason=preferred_reason,
        own=seen.own_id,
        declined={r.c_id for r in found if r.c_declined},
    )
    assigned = decision.consultant_id is not None

    # A consent is recorded; a do-not-contact stands until staff lift it at the customer's word.
    consent = {"consent_at": now, "consent_notice_version": request.notice_version}
    opportunity: dict[str, Any] = {"last_visit_at": now}
    if assigned:
        opportunity |= owner_columns(decision, now)
        if decision.consultant_id == seen.owner_id:
            del opportunity["owner_since"]  # the same owner: their stall clock runs on
    if values["car_model"] is not None or seen.opportunity_id is None:
        opportunity["car_model_id"] = values["car_model"]
    channel = (
        ConsentChannel.KIOSK if request.source == VisitSource.KIOSK else ConsentChannel.RECEPTION
    )
    customer: dict[str, Any] | None = consent if request.consent else None
    if not known:
        customer = dict(
            store_id=request.store_id,
            mobile=mobile,
            surname=values["surname"],
            title=values["title"],
            created_at=now,
            **(customer or {}),
        )
    rows = _Rows(
        customer_id=seen.customer_id,
        customer=customer,
        consent=(
            dict(
                granted=True,
                notice_version=request.notice_version,
                channel=channel.value,
                recorded_at=now,
                recorded_by=request.recorded_by,
            )
            if request.consent
            else None
        ),
        opportunity_id=seen.opportunity_id,
        opportunity=(
            opportunity
            if seen.opportunity_id is not None
            else dict(
                store_id=request.store_id,
                status=OpportunityStatus.OPEN.value,
                created_at=now,
                **opportunity,
            )
        ),
        visit=dict(
            store_id=request.store_id,
            invitation_id=seen.invitation_id,
            kiosk_device_id=request.kiosk_device_id,
            recorded_by=request.recorded_by,
            source=request.source,
            purpose=values["purpose"],
            car_model_id=values["car_model"],
            party_size=values["party_size"],
            status=VisitStatus.WAITING.value,
            is_first_visit=not seen.had_visits,
            idempotency_key=request.idempotency_key,
            checked_in_at=now,
            waiting_candidates=None if assigned else decision.candidates,
            consultant_id=None,
            assigned_at=None,
        )
        | (visit_columns(decision, now) if assigned else {}),
        invitation_id=seen.invitation_id,
    )
    customer_id, opportunity_id, visit_id = _write(session, rows)
    position = None
    if assigned:
        apply(
            session,
            [
                OwnerChange(
                    store_id=request.store_id,
                    opportunity_id=opportunity_id,
                    from_owner_id=seen.owner_id,
                    decision=decision,
                    at=now,
                    visit_id=visit_id,
                    note=preferred_note(decision),
                    walk_in=True,
                    written=True,
                )
            ],
        )
    else:
        position = _queue_position(session, request.store_id, visit_id)
    # Rows were changed with Core statements: objects this session already holds reload.
    expire_loaded(session, Customer, customer_id)
    expire_loaded(session, Opportunity, opportunity_id)
    expire_loaded(session, Invitation, seen.invitation_id)
    return CheckInResult(
        visit_id=visit_id,
        customer_id=customer_id,
        consultant_id=decision.consultant_id,
        consultant_name=decision.name,
        queue_position=position,
        returning=known,
    )


_customers = table_of(Customer)
_consents = table_of(ConsentRecord)
_opportunities = table_of(Opportunity)
_visits = table_of(Visit)
_invitations = table_of(Invitation)
_assignments = table_of(Assignment)
_settings_table = table_of(ConsultantSettings)


@dataclass(frozen=True)
class _Rows:
    """What a check-in writes besides its dispatch, decided before anything is written.
    ``customer``: the new customer's row, or the consent columns of a known one
    (``customer_id``), or None; likewise ``opportunity`` for the open opportunity
    (``opportunity_id`` when it exists). The ids that only exist once the rows are inserted
    (customer, opportunity, visit) are filled in by the writer."""

    customer_id: int | None
    customer: dict[str, Any] | None
    consent: dict[str, Any] | None
    opportunity_id: int | None
    opportunity: dict[str, Any]
    visit: dict[str, Any]
    invitation_id: int | None


def _write(session: Session, rows: _Rows) -> tuple[int, int, int]:
    """The customer (or their consent), the consent record, the opportunity, the visit and the
    invitation honoured: one statement each, the same on every database."""
    if rows.customer_id is None:
        assert rows.customer is not None
        customer_id = session.execute(_inserting(_customers), rows.customer).scalar_one()
    else:
        customer_id = rows.customer_id
        if rows.customer is not None:
            session.execute(
                update(_customers).where(_customers.c.id == customer_id).values(rows.customer)
            )
    if rows.consent is not None:
        session.execute(_inserting(_consents), {"customer_id": customer_id, **rows.consent})
    if rows.opportunity_id is None:
        opportunity_id = session.execute(
            _inserting(_opportunities), {"customer_id": customer_id, **rows.opportunity}
        ).scalar_one()
    else:
        opportunity_id = rows.opportunity_id
        session.execute(
            update(_opportunities)
            .where(_opportunities.c.id == opportunity_id)
            .values(rows.opportunity)
        )
    visit_id = session.execute(
        _inserting(_visits),
        {"customer_id": customer_id, "opportunity_id": opportunity_id, **rows.visit},
    ).scalar_one()
    if rows.invitation_id is not None:
        session.execute(
            update(_invitations)
            .where(_invitations.c.id == rows.invitation_id)
            .values(status=InvitationStatus.HONOURED.value, visit_id=visit_id)
        )
    return customer_id, opportunity_id, visit_id


@cache
def _inserting(table: Any) -> Any:
    """An INSERT returning the new id, built once; the values come as parameters."""
    return insert(table).returning(table.c.id)


def _valid_model(model_id: int | None, found: bool) -> int | None:
    """A model of the store's list (found active by the look-up), or None for "not sure yet"."""
    if model_id is None:
        return None
    if not found:
        raise ValidationError({"car_model": N_("Choose a car model from the list.")})
    return model_id


@cache
def _lookup_statement() -> Any:
    """Everything a check-in reads before it decides, in one statement: an earlier visit with
    the same idempotency key, the car model, the customer, their open opportunity and owner,
    whether they came before, and an invitation for today."""
    store_id = bindparam("p_store_id", type_=Integer)
    day_start = bindparam("p_day_start", type_=UTCDateTime)
    day_end = bindparam("p_day_end", type_=UTCDateTime)
    # Core tables, not ORM entities: the statement is cached and runs without ORM set-up.
    customer = _customers.alias("customer")
    opportunity = _opportunities.alias("opportunity")
    visits, models, invitations = _visits.c, table_of(CarModel).c, _invitations.c
    earlier = (
        select(visits.id)
        .where(visits.store_id == store_id, visits.idempotency_key == bindparam("p_key"))
        .limit(1)
        .scalar_subquery()
    )
    model_ok = exists().where(
        models.id == bindparam("p_model_id", type_=Integer),
        models.store_id == store_id,
        models.active == true(),
    )
    had_visits = exists().where(visits.customer_id == customer.c.id)
    invitation = (
        select(invitations.id)
        .where(
            invitations.customer_id == customer.c.id,
            invitations.status == InvitationStatus.SCHEDULED.value,
            invitations.scheduled_at >= day_start,
            invitations.scheduled_at < day_end,
        )
        .order_by(invitations.scheduled_at, invitations.id)
        .limit(1)
    )
    return (
        select(
            earlier.label("earlier_visit"),
            model_ok.label("model_ok"),
            customer.c.id.label("customer_id"),
            opportunity.c.id.label("opportunity_id"),
            opportunity.c.owner_id.label("owner_id"),
            own_consultant(customer.c.id).label("own_id"),
            had_visits.label("had_visits"),
            invitation.scalar_subquery().label("invitation_id"),
            invitation.with_only_columns(invitations.consultant_id)
            .scalar_subquery()
            .label("invitation_consultant_id"),
            invitation.with_only_columns(invitations.source)
            .scalar_subquery()
            .label("invitation_source"),
        )
        .select_from(select(literal(1).label("one")).subquery("one"))
        .outerjoin(
            customer,
            and_(customer.c.store_id == store_id, customer.c.mobile == bindparam("p_mobile")),
        )
        .outerjoin(
            opportunity,
            and_(
                opportunity.c.customer_id == customer.c.id,
                opportunity.c.status == OpportunityStatus.OPEN.value,
            ),
        )
        .limit(1)
    )


@cache
def _seen_statement() -> Any:
    """The look-up and the candidates in one statement: the look-up's row beside each
    consultant (once, with no consultant, when the store has none)."""
    seen = _lookup_statement().subquery("seen")
    pool = candidates_statement().subquery("pool")
    declines = table_of(Decline).c
    declined = exists().where(
        declines.customer_id == seen.c.customer_id,
        declines.consultant_id == pool.c.c_id,
        declines.lifted_at.is_(None),
    )
    return (
        select(seen, pool, declined.label("c_declined"))
        .select_from(seen)
        .outerjoin(pool, true())
        .order_by(pool.c.c_id)
    )


def _queue_position(session: Session, store_id: int, visit_id: int) -> int:
    ahead = session.scalar(
        select(func.count())
        .select_from(Visit)
        .where(
            Visit.store_id == store_id,
            Visit.status == VisitStatus.WAITING.value,
            Visit.id < visit_id,
        )
    )
    return int(ahead or 0) + 1


def _by_key(session: Session, store_id: int, key: str) -> CheckInResult | None:
    visit = session.scalars(
        select(Visit).where(Visit.store_id == store_id, Visit.idempotency_key == key)
    ).first()
    if visit is None:
        return None
    result = _result(session, visit, returning=not visit.is_first_visit)
    return CheckInResult(**{**result.__dict__, "duplicate": True})


def _result(session: Session, visit: Visit, *, returning: bool) -> CheckInResult:
    name = None
    position = None
    if visit.consultant_id is not None:
        name = session.scalar(select(User.display_name).where(User.id == visit.consultant_id))
    elif visit.status == VisitStatus.WAITING.value:
        position = queue_position(session, visit)
    return CheckInResult(
        visit_id=visit.id,
        customer_id=visit.customer_id,
        consultant_id=visit.consultant_id,
        consultant_name=name,
        queue_position=position,
        returning=returning,
    )


def queue_position(session: Session, visit: Visit) -> int:
    return _queue_position(session, visit.store_id, visit.id)


# --- the waiting queue -------------------------------------------------------------------------


# --- presence and receptions -------------------------------------------------------------------


# --- what the screens show ---------------------------------------------------------------------

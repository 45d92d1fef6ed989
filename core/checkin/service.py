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
from dataclasses import dataclass, field
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
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.util import identity_key

from core import audit
from core.checkin.models import Visit
from core.db import UTCDateTime
from core.dispatch.models import Assignment
from core.enums import (
    HIGH_INTENT,
    AssignmentReason,
    ConsentChannel,
    InvitationStatus,
    OpportunityStatus,
    Presence,
    Role,
    VisitPurpose,
    VisitSource,
    VisitStatus,
)
from core.errors import DomainError, NotFound, ValidationError
from core.i18n import N_
from core.locks import lock_store
from core.opportunities.models import ConsentRecord, Customer, Invitation, Opportunity
from core.phone import mask_mobile, normalise_mobile
from core.rules.models import RuleSet
from core.sqlfuncs import const, consts
from core.stores.models import CarModel, ConsultantSettings, User
from core.stores.service import store_timezone
from core.timeutil import day_bounds_utc, local_date

NOTICE_VERSION = "2026-01"
# The note on an assignment when the customer's own (or invited) consultant was not on duty.
PREFERRED_OFF_DUTY = "preferred_off_duty"
SURNAME_MAX = 10
MAX_PARTY = 20
BUSY = (VisitStatus.ASSIGNED.value, VisitStatus.IN_RECEPTION.value)
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
    party_size: int | str | None = 1
    surname: str | None = None  # needed for a new customer only
    title: str | None = None
    car_model_id: int | str | None = None
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


def validate_party_size(raw: int | str | None) -> int:
    try:
        size = int(raw or 0)
    except (TypeError, ValueError):
        size = 0
    if not 1 <= size <= MAX_PARTY:
        raise ValidationError({"party_size": N_("Choose how many of you came (1 to 20).")})
    return size


def validate_purpose(raw: str | None) -> str:
    if raw not in {p.value for p in VisitPurpose}:
        raise ValidationError({"purpose": N_("Choose why you came today.")})
    return raw


def validate_car_model(session: Session, store_id: int, raw: int | str | None) -> int | None:
    """A model of the store's list, or None for "not sure yet"."""
    if raw in (None, "", "none"):
        return None
    try:
        model_id = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        model_id = -1
    model = session.get(CarModel, model_id)
    if model is None or model.store_id != store_id or not model.active:
        raise ValidationError({"car_model": N_("Choose a car model from the list.")})
    return model_id


# --- dispatch ----------------------------------------------------------------------------------


@dataclass
class Candidate:
    user_id: int
    name: str
    presence: str
    active: bool
    busy: bool
    load: int
    cap: int
    last_walk_in_at: datetime | None
    skipped: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "presence": self.presence,
            "load": self.load,
            "cap": self.cap,
            "skipped": self.skipped,
        }


@cache
def _candidates_statement() -> Any:
    """Built once: consultants with presence, busy state, load and cap (the store's default
    cap from its latest rule set where they have none of their own)."""
    store_id = bindparam("p_store_id", type_=Integer)
    # Core tables, not ORM entities: the statement runs without ORM set-up on every check-in.
    users, settings = User.__table__.c, ConsultantSettings.__table__.c
    opps, visits, rules = _opportunities.c, _visits.c, RuleSet.__table__.c
    load = (
        select(opps.owner_id, func.count().label("load"))
        .where(
            opps.store_id == store_id,
            opps.status == const(OpportunityStatus.OPEN.value),
            or_(opps.grade.is_(None), opps.grade.in_(consts(g.value for g in HIGH_INTENT))),
            opps.owner_id.is_not(None),
        )
        .group_by(opps.owner_id)
        .subquery()
    )
    busy = (
        select(visits.consultant_id, func.count().label("n"))
        .where(visits.store_id == store_id, visits.status.in_(consts(BUSY)))
        .group_by(visits.consultant_id)
        .subquery()
    )
    default_cap = (
        select(rules.default_load_cap)
        .where(rules.store_id == store_id)
        .order_by(rules.version.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            users.id.label("c_id"),
            users.display_name.label("c_name"),
            settings.presence.label("c_presence"),
            (users.active & settings.active).label("c_active"),
            func.coalesce(busy.c.n, 0).label("c_busy"),
            func.coalesce(load.c.load, 0).label("c_load"),
            func.coalesce(settings.load_cap, default_cap).label("c_cap"),
            settings.last_walk_in_at.label("c_last_walk_in_at"),
        )
        .select_from(User.__table__)
        .join(ConsultantSettings.__table__, settings.user_id == users.id)
        .outerjoin(load, load.c.owner_id == users.id)
        .outerjoin(busy, busy.c.consultant_id == users.id)
        .where(users.store_id == store_id, users.role == const(Role.CONSULTANT.value))
        .order_by(users.id)
    )


def candidates(session: Session, store_id: int) -> list[Candidate]:
    """Every consultant with presence, busy state, load and cap: one statement."""
    return _pool(session.execute(_candidates_statement(), {"p_store_id": store_id}).all())


def _pool(rows: list[Any]) -> list[Candidate]:
    """Candidates from rows with the candidate columns (none: a row without a consultant)."""
    return [
        Candidate(
            r.c_id,
            r.c_name,
            r.c_presence,
            bool(r.c_active),
            bool(r.c_busy),
            int(r.c_load),
            int(r.c_cap),
            r.c_last_walk_in_at,
        )
        for r in rows
        if r.c_id is not None
    ]


@dataclass(frozen=True)
class Decision:
    consultant_id: int | None  # None: the visitor waits
    reason: str | None
    candidates: list[dict[str, Any]]
    load: int | None = None
    cap: int | None = None
    name: str | None = None


def choose(
    pool: list[Candidate],
    *,
    preferred: int | None = None,
    preferred_reason: str | None = None,
    declined: int | None = None,
) -> Decision:
    """The dispatch rule. ``preferred``: the invitation's or the owner's consultant, who gets
    the visitor whenever they are on duty (busy or at cap: the customer is theirs).
    ``declined``: a consultant the customer asked customer service not to have again; the
    rotation passes them over."""
    by_id = {c.user_id: c for c in pool}
    chosen = by_id.get(preferred) if preferred is not None else None
    if chosen and chosen.active and chosen.presence == Presence.ON_DUTY:
        for c in pool:
            c.skipped = None if c is chosen else "not_owner"
        return Decision(
            chosen.user_id,
            preferred_reason,
            [c.as_record() for c in pool],
            chosen.load,
            chosen.cap,
            chosen.name,
        )
    for c in pool:
        if not c.active:
            c.skipped = "inactive"
        elif c.user_id == declined:
            c.skipped = "declined"
        elif c.presence != Presence.ON_DUTY:
            c.skipped = c.presence
        elif c.busy:
            c.skipped = "busy"
        elif c.load >= c.cap:
            c.skipped = "at_cap"
        else:
            c.skipped = None
    eligible = [c for c in pool if c.skipped is None]
    if not eligible:
        return Decision(None, None, [c.as_record() for c in pool])
    never = datetime.min
    first = min(
        eligible,
        key=lambda c: (
            c.last_walk_in_at.replace(tzinfo=None) if c.last_walk_in_at else never,
            c.user_id,
        ),
    )
    for c in eligible:
        if c is not first:
            c.skipped = "later_in_rotation"
    return Decision(
        first.user_id,
        AssignmentReason.ROTATION.value,
        [c.as_record() for c in pool],
        first.load,
        first.cap,
        first.name,
    )


def _assign(
    session: Session,
    visit: Visit,
    opportunity: Opportunity,
    decision: Decision,
    now: datetime,
    *,
    reason: str | None = None,
    actor_id: int | None = None,
    note: str | None = None,
) -> None:
    """Give the visit (and the opportunity) to the decided consultant and record why."""
    assert decision.consultant_id is not None
    session.add(
        Assignment(
            store_id=visit.store_id,
            opportunity=opportunity,
            visit=visit,
            from_owner_id=opportunity.owner_id,
            to_owner_id=decision.consultant_id,
            assigned_at=now,
            assigned_by=actor_id,
            reason=reason or decision.reason,
            note=note,
            to_load=decision.load,
            to_cap=decision.cap,
            candidates=decision.candidates,
        )
    )
    visit.consultant_id = decision.consultant_id
    visit.status = VisitStatus.ASSIGNED.value
    visit.assigned_at = now
    opportunity.owner_id = decision.consultant_id
    opportunity.pool_since = None
    opportunity.pool_reason = None
    session.execute(
        update(ConsultantSettings)
        .where(ConsultantSettings.user_id == decision.consultant_id)
        .values(last_walk_in_at=now)
    )


def _preference(
    session: Session, opportunity: Opportunity, invitation: Invitation | None
) -> tuple[int | None, str | None]:
    if invitation is not None and invitation.consultant_id is not None:
        return invitation.consultant_id, AssignmentReason.REINVITE.value
    if opportunity.owner_id is not None:
        return opportunity.owner_id, AssignmentReason.RETURNING_OWNER.value
    return None, None


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
    loads included, is read in one statement; the decision is made before anything is written,
    and each row is then written once with its final values (owner, consultant, status): on
    PostgreSQL all of them in one statement. Validation happens before anything is written; a
    repeated idempotency key returns the first result and writes nothing.
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
    model_id = _model_id(request.car_model_id)
    found = session.execute(
        _seen_statement(),
        {
            "p_store_id": request.store_id,
            "p_mobile": mobile,
            "p_key": request.idempotency_key or "",
            "p_model_id": model_id if model_id is not None else -1,
            "p_day_start": day_start,
            "p_day_end": day_end,
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
        ("car_model", lambda: _valid_model(request.car_model_id, model_id, seen.model_ok)),
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

    # The decision, before anything is written: the invitation's consultant, else the owner.
    if seen.invitation_consultant_id is not None:
        preferred, preferred_reason = (
            seen.invitation_consultant_id,
            AssignmentReason.REINVITE.value,
        )
    elif seen.owner_id is not None:
        preferred, preferred_reason = seen.owner_id, AssignmentReason.RETURNING_OWNER.value
    else:
        preferred, preferred_reason = None, None
    decision = choose(
        _pool(found),
        preferred=preferred,
        preferred_reason=preferred_reason,
        declined=seen.declined_owner_id,
    )
    assigned = decision.consultant_id is not None

    consent = {"consent_at": now, "consent_notice_version": request.notice_version}
    if request.consent:
        # A fresh consent is the customer's own new wish to be contacted.
        consent |= {"do_not_contact": False, "do_not_contact_at": None}
    opportunity: dict[str, Any] = {"last_visit_at": now}
    if values["car_model"] is not None or seen.opportunity_id is None:
        opportunity["car_model_id"] = values["car_model"]
    if assigned:
        opportunity |= {"owner_id": decision.consultant_id, "pool_since": None, "pool_reason": None}
    off_duty = assigned and preferred is not None and decision.consultant_id != preferred
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
            status=(VisitStatus.ASSIGNED if assigned else VisitStatus.WAITING).value,
            is_first_visit=not seen.had_visits,
            idempotency_key=request.idempotency_key,
            checked_in_at=now,
            consultant_id=decision.consultant_id,
            assigned_at=now if assigned else None,
            waiting_candidates=None if assigned else decision.candidates,
        ),
        invitation_id=seen.invitation_id,
        assignment=(
            dict(
                store_id=request.store_id,
                from_owner_id=seen.owner_id,
                to_owner_id=decision.consultant_id,
                assigned_at=now,
                reason=decision.reason,
                note=PREFERRED_OFF_DUTY if off_duty else None,
                to_load=decision.load,
                to_cap=decision.cap,
                candidates=decision.candidates,
            )
            if assigned
            else None
        ),
        walk_in=(decision.consultant_id, now) if assigned else None,
    )
    if session.get_bind().dialect.name == "postgresql":
        customer_id, opportunity_id, visit_id, position = _write_at_once(session, rows)
    else:
        customer_id, opportunity_id, visit_id, position = _write_one_by_one(session, rows)
    # Rows were changed with Core statements: objects this session already holds reload.
    _expire(session, Customer, customer_id)
    _expire(session, Opportunity, opportunity_id)
    _expire(session, Invitation, seen.invitation_id)
    _expire(session, ConsultantSettings, decision.consultant_id)
    return CheckInResult(
        visit_id=visit_id,
        customer_id=customer_id,
        consultant_id=decision.consultant_id,
        consultant_name=decision.name,
        queue_position=position,
        returning=known,
    )


_customers = Customer.__table__
_consents = ConsentRecord.__table__
_opportunities = Opportunity.__table__
_visits = Visit.__table__
_invitations = Invitation.__table__
_assignments = Assignment.__table__
_settings_table = ConsultantSettings.__table__


@dataclass(frozen=True)
class _Rows:
    """What a check-in writes, decided before anything is written. ``customer``: the new
    customer's row, or the consent columns of a known one (``customer_id``), or None; likewise
    ``opportunity`` for the open opportunity (``opportunity_id`` when it exists). The ids that
    only exist once the rows are inserted (customer, opportunity, visit) are filled in by the
    writer."""

    customer_id: int | None
    customer: dict[str, Any] | None
    consent: dict[str, Any] | None
    opportunity_id: int | None
    opportunity: dict[str, Any]
    visit: dict[str, Any]
    invitation_id: int | None
    assignment: dict[str, Any] | None
    walk_in: tuple[int, datetime] | None  # the consultant and when they were given a walk-in

    def shape(self) -> tuple[Any, ...]:
        """What the statement that writes these rows depends on (not the values)."""

        def keys(row: dict[str, Any] | None) -> tuple[str, ...] | None:
            return None if row is None else tuple(row)

        return (
            self.customer_id is None,
            keys(self.customer),
            keys(self.consent),
            self.opportunity_id is None,
            keys(self.opportunity),
            keys(self.visit),
            self.invitation_id is not None,
            keys(self.assignment),
            self.walk_in is not None,
        )

    def parameters(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "p_customer_id": self.customer_id,
            "p_opportunity_id": self.opportunity_id,
            "p_invitation_id": self.invitation_id,
        }
        for prefix, row in (
            ("customer", self.customer),
            ("consent", self.consent),
            ("opportunity", self.opportunity),
            ("visit", self.visit),
            ("assignment", self.assignment),
        ):
            for key, value in (row or {}).items():
                params[f"p_{prefix}_{key}"] = value
        if self.walk_in is not None:
            params["p_walk_in_user"], params["p_walk_in_at"] = self.walk_in
        return params


def _write_one_by_one(session: Session, rows: _Rows) -> tuple[int, int, int, int | None]:
    """One statement per row (SQLite, where a statement costs no round trip)."""
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
    position = None
    if rows.assignment is not None:
        session.execute(
            _inserting(_assignments),
            {"opportunity_id": opportunity_id, "visit_id": visit_id, **rows.assignment},
        )
    else:
        position = _queue_position(session, rows.visit["store_id"], visit_id)
    if rows.walk_in is not None:
        user_id, at = rows.walk_in
        session.execute(
            update(_settings_table)
            .where(_settings_table.c.user_id == user_id)
            .values(last_walk_in_at=at)
        )
    return customer_id, opportunity_id, visit_id, position


def _write_at_once(session: Session, rows: _Rows) -> tuple[int, int, int, int | None]:
    """Every row in one statement (PostgreSQL: one round trip, data-modifying WITH clauses
    that hand each other the new ids)."""
    found = session.execute(_writing(rows.shape()), rows.parameters()).one()
    return found.customer_id, found.opportunity_id, found.visit_id, found.position


def _bound(table: Any, prefix: str, keys: tuple[str, ...] | None) -> dict[str, Any]:
    """Each column as a parameter ``p_<prefix>_<column>`` of the column's type."""
    return {k: bindparam(f"p_{prefix}_{k}", type_=table.c[k].type) for k in keys or ()}


def _inserted(table: Any, prefix: str, keys: tuple[str, ...] | None) -> dict[str, Any]:
    """``_bound``, with the columns' own defaults for the others: an INSERT inside a WITH
    clause gets no Python-side defaults from SQLAlchemy."""
    values = _bound(table, prefix, keys)
    for column in table.c:
        if column.default is not None and column.key not in values:
            assert column.default.is_scalar, f"{table.name}.{column.key} needs a value"
            values[column.key] = literal(column.default.arg, column.type)
    return values


@cache
def _writing(shape: tuple[Any, ...]) -> Any:
    """The statement that writes rows of this shape (see ``_Rows.shape``), built once."""
    (
        new_customer,
        customer_keys,
        consent_keys,
        new_opportunity,
        opportunity_keys,
        visit_keys,
        invited,
        assignment_keys,
        walk_in,
    ) = shape
    ctes: list[Any] = []
    if new_customer:
        inserted = (
            insert(_customers)
            .values(_inserted(_customers, "customer", customer_keys))
            .returning(_customers.c.id)
            .cte("new_customer")
        )
        customer_id: Any = select(inserted.c.id).scalar_subquery()
    else:
        customer_id = bindparam("p_customer_id", type_=Integer)
        if customer_keys is not None:
            ctes.append(
                update(_customers)
                .where(_customers.c.id == customer_id)
                .values(_bound(_customers, "customer", customer_keys))
                .cte("consented")
            )
    if consent_keys is not None:
        ctes.append(
            insert(_consents)
            .values(customer_id=customer_id, **_inserted(_consents, "consent", consent_keys))
            .cte("consent")
        )
    if new_opportunity:
        opened = (
            insert(_opportunities)
            .values(
                customer_id=customer_id,
                **_inserted(_opportunities, "opportunity", opportunity_keys),
            )
            .returning(_opportunities.c.id)
            .cte("new_opportunity")
        )
        opportunity_id: Any = select(opened.c.id).scalar_subquery()
    else:
        opportunity_id = bindparam("p_opportunity_id", type_=Integer)
        ctes.append(
            update(_opportunities)
            .where(_opportunities.c.id == opportunity_id)
            .values(_bound(_opportunities, "opportunity", opportunity_keys))
            .cte("revisited")
        )
    visit = (
        insert(_visits)
        .values(
            customer_id=customer_id,
            opportunity_id=opportunity_id,
            **_inserted(_visits, "visit", visit_keys),
        )
        .returning(_visits.c.id, _visits.c.store_id)
        .cte("new_visit")
    )
    visit_id = select(visit.c.id).scalar_subquery()
    if invited:
        ctes.append(
            update(_invitations)
            .where(_invitations.c.id == bindparam("p_invitation_id", type_=Integer))
            .values(status=InvitationStatus.HONOURED.value, visit_id=visit_id)
            .cte("honoured")
        )
    if assignment_keys is not None:
        ctes.append(
            insert(_assignments)
            .values(
                opportunity_id=opportunity_id,
                visit_id=visit_id,
                **_inserted(_assignments, "assignment", assignment_keys),
            )
            .cte("assignment")
        )
        position: Any = literal(None, Integer)
    else:
        # The queue ahead of the new visit: the statement does not see its own new row, and
        # counts only the visits that arrived before it anyway.
        ahead = (
            select(func.count())
            .where(
                _visits.c.store_id == visit.c.store_id,
                _visits.c.status == VisitStatus.WAITING.value,
                _visits.c.id < visit.c.id,
            )
            .scalar_subquery()
        )
        position = ahead + 1
    if walk_in:
        ctes.append(
            update(_settings_table)
            .where(_settings_table.c.user_id == bindparam("p_walk_in_user", type_=Integer))
            .values(last_walk_in_at=bindparam("p_walk_in_at", type_=UTCDateTime))
            .cte("walk_in")
        )
    return select(
        customer_id.label("customer_id"),
        opportunity_id.label("opportunity_id"),
        visit.c.id.label("visit_id"),
        position.label("position"),
    ).add_cte(*ctes)


@cache
def _inserting(table: Any) -> Any:
    """An INSERT returning the new id, built once; the values come as parameters."""
    return insert(table).returning(table.c.id)


def _expire(session: Session, model: type[Any], key: int | None) -> None:
    if key is None:
        return
    loaded = session.identity_map.get(identity_key(model, key))
    if loaded is not None:
        session.expire(loaded)


def _model_id(raw: int | str | None) -> int | None:
    if raw in (None, "", "none"):
        return None
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -1


def _valid_model(raw: int | str | None, model_id: int | None, found: bool) -> int | None:
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
    visits, models, invitations = _visits.c, CarModel.__table__.c, _invitations.c
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
            invitations.status == const(InvitationStatus.SCHEDULED.value),
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
            opportunity.c.declined_owner_id.label("declined_owner_id"),
            had_visits.label("had_visits"),
            invitation.scalar_subquery().label("invitation_id"),
            invitation.with_only_columns(invitations.consultant_id)
            .scalar_subquery()
            .label("invitation_consultant_id"),
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
                opportunity.c.status == const(OpportunityStatus.OPEN.value),
            ),
        )
        .limit(1)
    )


@cache
def _seen_statement() -> Any:
    """The look-up and the candidates in one statement: the look-up's row beside each
    consultant (once, with no consultant, when the store has none)."""
    seen = _lookup_statement().subquery("seen")
    pool = _candidates_statement().subquery("pool")
    return select(seen, pool).select_from(seen).outerjoin(pool, true()).order_by(pool.c.c_id)


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


def dispatch_waiting(session: Session, store_id: int, now: datetime) -> int:
    """Hand waiting visitors, in arrival order, to consultants who can take them now."""
    lock_store(session, store_id)
    handed = 0
    waiting = session.execute(
        select(Visit, Opportunity, Invitation)
        .join(Opportunity, Opportunity.id == Visit.opportunity_id)
        .outerjoin(Invitation, Invitation.id == Visit.invitation_id)
        .where(Visit.store_id == store_id, Visit.status == VisitStatus.WAITING.value)
        .order_by(Visit.id)
    ).all()
    if not waiting:
        return 0
    pool = candidates(session, store_id)
    for visit, opportunity, invitation in waiting:
        preferred, preferred_reason = _preference(session, opportunity, invitation)
        decision = choose(
            pool,
            preferred=preferred,
            preferred_reason=preferred_reason,
            declined=opportunity.declined_owner_id,
        )
        if decision.consultant_id is None:
            continue  # a later visitor may still go to their own consultant
        reason = decision.reason
        if reason == AssignmentReason.ROTATION.value:
            reason = AssignmentReason.QUEUE.value
        new_owner = opportunity.owner_id != decision.consultant_id
        _assign(session, visit, opportunity, decision, now, reason=reason)
        handed += 1
        # the pool as the next visitor sees it
        taker = next(c for c in pool if c.user_id == decision.consultant_id)
        taker.busy = True
        taker.last_walk_in_at = now
        if new_owner and opportunity.grade in (None, "H", "A", "B"):
            taker.load += 1
    session.flush()
    return handed


# --- presence and receptions -------------------------------------------------------------------


def _settings(session: Session, store_id: int, consultant_id: int) -> ConsultantSettings:
    settings = session.get(ConsultantSettings, consultant_id)
    if settings is None or settings.store_id != store_id:
        raise NotFound("consultant")
    return settings


def set_presence(
    session: Session, store_id: int, consultant_id: int, presence: str, now: datetime
) -> int:
    """On duty, on break or off duty. Coming on duty may take a waiting visitor at once."""
    if presence not in {p.value for p in Presence}:
        raise ValidationError({"presence": N_("Choose on duty, on break or off duty.")})
    settings = _settings(session, store_id, consultant_id)
    if settings.presence != presence:
        settings.presence = presence
        settings.presence_since = now
    session.flush()
    return dispatch_waiting(session, store_id, now) if presence == Presence.ON_DUTY else 0


def _visit(session: Session, store_id: int, visit_id: int) -> Visit:
    visit = session.get(Visit, visit_id)
    if visit is None or visit.store_id != store_id:
        raise NotFound("visit")
    return visit


def start_reception(
    session: Session, store_id: int, consultant_id: int, visit_id: int, now: datetime
) -> None:
    visit = _visit(session, store_id, visit_id)
    if visit.consultant_id != consultant_id:
        raise DomainError(N_("This visitor was given to another consultant."))
    if visit.status != VisitStatus.ASSIGNED.value:
        raise DomainError(N_("This reception has already started or ended."))
    visit.status = VisitStatus.IN_RECEPTION.value
    visit.reception_started_at = now
    _settings(session, store_id, consultant_id).current_visit_id = visit.id


def end_reception(
    session: Session, store_id: int, consultant_id: int, visit_id: int, now: datetime
) -> int:
    """The visitor leaves the consultant; the next waiting visitor may come to them."""
    visit = _visit(session, store_id, visit_id)
    if visit.consultant_id != consultant_id:
        raise DomainError(N_("This visitor was given to another consultant."))
    if visit.status != VisitStatus.IN_RECEPTION.value:
        raise DomainError(N_("Start the reception before ending it."))
    visit.status = VisitStatus.FINISHED.value
    visit.reception_ended_at = now
    settings = _settings(session, store_id, consultant_id)
    if settings.current_visit_id == visit.id:
        settings.current_visit_id = None
    session.flush()
    return dispatch_waiting(session, store_id, now)


def mark_left(session: Session, store_id: int, visit_id: int, actor_id: int, now: datetime) -> int:
    """The visitor left before a consultant received them."""
    visit = _visit(session, store_id, visit_id)
    if visit.status not in (VisitStatus.WAITING.value, VisitStatus.ASSIGNED.value):
        raise DomainError(N_("Only a visitor who is still waiting can be marked as left."))
    visit.status = VisitStatus.LEFT.value
    visit.left_at = now
    audit.record(
        session,
        "visit_left",
        store_id=store_id,
        actor_id=actor_id,
        entity="visit",
        entity_id=visit.id,
    )
    session.flush()
    return dispatch_waiting(session, store_id, now)


def reassign_visit(
    session: Session,
    store_id: int,
    visit_id: int,
    consultant_id: int,
    actor_id: int,
    now: datetime,
    note: str | None = None,
) -> None:
    """The receptionist sends a visitor to another consultant (recorded as a manual assignment)."""
    visit = _visit(session, store_id, visit_id)
    if visit.status not in (VisitStatus.WAITING.value, VisitStatus.ASSIGNED.value):
        raise DomainError(N_("Only a visitor who is still waiting can be reassigned."))
    lock_store(session, store_id)
    pool = candidates(session, store_id)
    target = next((c for c in pool if c.user_id == consultant_id), None)
    if target is None or not target.active:
        raise ValidationError({"consultant": N_("Choose an active consultant of this store.")})
    for c in pool:
        c.skipped = None if c is target else "not_chosen"
    opportunity = session.get(Opportunity, visit.opportunity_id)
    assert opportunity is not None
    decision = Decision(
        target.user_id,
        AssignmentReason.MANUAL.value,
        [c.as_record() for c in pool],
        target.load,
        target.cap,
    )
    _assign(session, visit, opportunity, decision, now, actor_id=actor_id, note=note)


# --- what the screens show ---------------------------------------------------------------------


@dataclass(frozen=True)
class VisitRow:
    id: int
    checked_in_at: datetime
    surname: str
    title: str | None
    masked_mobile: str
    purpose: str
    car_model: str | None
    party_size: int
    status: str
    source: str
    first_visit: bool
    invited: bool
    consultant_id: int | None
    consultant: str | None
    assigned_at: datetime | None
    reception_started_at: datetime | None
    reception_ended_at: datetime | None
    left_at: datetime | None
    queue_position: int | None = None
    waiting_candidates: list[dict[str, Any]] | None = None

    def waited_minutes(self, now: datetime) -> int:
        """From check-in until a consultant started the reception (or now, or leaving)."""
        end = self.reception_started_at or self.left_at or now
        return max(0, int((end - self.checked_in_at).total_seconds() // 60))

    def reception_minutes(self, now: datetime) -> int | None:
        if self.reception_started_at is None:
            return None
        end = self.reception_ended_at or now
        return max(0, int((end - self.reception_started_at).total_seconds() // 60))


def _visit_rows(session: Session, *conditions: Any) -> list[VisitRow]:
    consultant = aliased(User)
    rows = session.execute(
        select(
            Visit,
            Customer.surname,
            Customer.title,
            Customer.mobile,
            CarModel.name,
            consultant.display_name,
        )
        .join(Customer, Customer.id == Visit.customer_id)
        .outerjoin(CarModel, CarModel.id == Visit.car_model_id)
        .outerjoin(consultant, consultant.id == Visit.consultant_id)
        .where(*conditions)
        .order_by(Visit.checked_in_at, Visit.id)
    ).all()
    # The queue is in the order visits were recorded (under the store's lock), which is the
    # arrival order even for visitors who checked in at the same instant.
    waiting_ids = sorted(v.id for v, *_ in rows if v.status == VisitStatus.WAITING.value)
    place = {visit_id: i for i, visit_id in enumerate(waiting_ids, start=1)}
    result = []
    for v, surname, title, mobile, model, name in rows:
        result.append(
            VisitRow(
                id=v.id,
                checked_in_at=v.checked_in_at,
                surname=surname,
                title=title,
                masked_mobile=mask_mobile(mobile),
                purpose=v.purpose,
                car_model=model,
                party_size=v.party_size,
                status=v.status,
                source=v.source,
                first_visit=v.is_first_visit,
                invited=v.invitation_id is not None,
                consultant_id=v.consultant_id,
                consultant=name,
                assigned_at=v.assigned_at,
                reception_started_at=v.reception_started_at,
                reception_ended_at=v.reception_ended_at,
                left_at=v.left_at,
                queue_position=place.get(v.id),
                waiting_candidates=v.waiting_candidates,
            )
        )
    return result


def todays_visits(session: Session, store_id: int, now: datetime, timezone: str) -> list[VisitRow]:
    """Today's visitors of the store, in arrival order, plus anyone still waiting from before."""
    start, end = day_bounds_utc(local_date(now, timezone), timezone)
    return _visit_rows(
        session,
        Visit.store_id == store_id,
        (Visit.checked_in_at >= start) & (Visit.checked_in_at < end)
        | Visit.status.in_([VisitStatus.WAITING.value, *BUSY]),
    )


def my_arrivals(session: Session, store_id: int, consultant_id: int) -> list[VisitRow]:
    """Visitors given to this consultant and not yet finished."""
    return _visit_rows(
        session,
        Visit.store_id == store_id,
        Visit.consultant_id == consultant_id,
        Visit.status.in_(BUSY),
    )


@dataclass(frozen=True)
class LobbyBoard:
    waiting: list[VisitRow]
    free: list[str]
    busy: list[str]


def lobby_board(session: Session, store_id: int) -> LobbyBoard:
    waiting = _visit_rows(
        session, Visit.store_id == store_id, Visit.status == VisitStatus.WAITING.value
    )
    pool = candidates(session, store_id)
    on_duty = [c for c in pool if c.active and c.presence == Presence.ON_DUTY]
    return LobbyBoard(
        waiting=waiting,
        free=[c.name for c in on_duty if not c.busy],
        busy=[c.name for c in on_duty if c.busy],
    )


@dataclass(frozen=True)
class Explanation:
    at: datetime
    reason: str
    to_name: str | None
    from_name: str | None
    by_name: str | None
    note: str | None
    load: int | None
    cap: int | None
    candidates: list[dict[str, Any]] = field(default_factory=list)


def explain_visit(
    session: Session, store_id: int, visit_id: int
) -> tuple[VisitRow, list[Explanation]]:
    """Why the visitor went where they went: every assignment of the visit, with candidates."""
    rows = _visit_rows(session, Visit.store_id == store_id, Visit.id == visit_id)
    if not rows:
        raise NotFound("visit")
    row = rows[0]
    to_user, from_user, by_user = aliased(User), aliased(User), aliased(User)
    assignments = session.execute(
        select(Assignment, to_user.display_name, from_user.display_name, by_user.display_name)
        .outerjoin(to_user, to_user.id == Assignment.to_owner_id)
        .outerjoin(from_user, from_user.id == Assignment.from_owner_id)
        .outerjoin(by_user, by_user.id == Assignment.assigned_by)
        .where(Assignment.visit_id == visit_id, Assignment.store_id == store_id)
        .order_by(Assignment.assigned_at, Assignment.id)
    ).all()
    return row, [
        Explanation(
            a.assigned_at,
            a.reason,
            to_name,
            from_name,
            by_name,
            a.note,
            a.to_load,
            a.to_cap,
            a.candidates or [],
        )
        for a, to_name, from_name, by_name in assignments
    ]

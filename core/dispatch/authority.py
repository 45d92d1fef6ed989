"""The dispatch authority (DESIGN.md section 3 steps 1 and 9): every change of an opportunity's
owner goes through here, whoever causes it (a check-in, the waiting queue, the desk, the refill,
a callback's outcome, a manager, a grading to C, the nightly run's releases).

- **The candidates**: every consultant of the store with presence, busy state, load and cap
  (one statement; the cap is their own, else the store's default).
- **The rule** (``passed_over``), written once: active; never a consultant the customer
  declined; on duty and free where a walk-in needs it; below the cap unless the customer is
  already theirs (their own consultant: ``own_consultant``).
- **The choice** (``choose``): the preferred consultant when the rule lets them, else the next in
  the walk-in rotation or the refill's order, or nobody.
- **The writer** (``apply``): the owner columns, the assignment with the reason, who caused it and
  every candidate with their load, cap and the reason they were passed over; the opportunity's
  scheduled invitations follow the new owner. No other code writes an owner.

Callers take the store's lock (``core.locks.lock_store``) before they read the candidates.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from core import audit
from core.checkin.models import Visit
from core.db import UTCDateTime, expire_loaded, table_of
from core.dispatch.load import grade_counts_towards_load, load_by_owner
from core.dispatch.models import Assignment, Decline
from core.enums import (
    BUSY,
    AssignmentReason,
    InvitationSource,
    InvitationStatus,
    OpportunityStatus,
    Presence,
    Role,
    VisitStatus,
)
from core.errors import DomainError, NotFound, ValidationError
from core.i18n import N_
from core.locks import lock_store
from core.opportunities.models import Invitation, Opportunity
from core.rules.models import RuleSet
from core.stores.models import ConsultantSettings, User


class Skip(StrEnum):
    """Why dispatch passed over a consultant (an assignment's candidates)."""

    INACTIVE = "inactive"
    DECLINED = "declined"
    ON_BREAK = Presence.ON_BREAK.value
    OFF_DUTY = Presence.OFF_DUTY.value
    BUSY = "busy"
    AT_CAP = "at_cap"
    LATER = "later_in_rotation"
    NOT_OWNER = "not_owner"
    NOT_CHOSEN = "not_chosen"


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
    last_refill_at: datetime | None = None
    skipped: str | None = None

    @property
    def room(self) -> int:
        return self.cap - self.load

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
def candidates_statement() -> Any:
    """Built once: consultants with presence, busy state, load and cap (their own cap, else
    ``p_default_cap`` when given, else the store's default from its latest rule set)."""
    store_id = bindparam("p_store_id", type_=Integer)
    # Core tables, not ORM entities: the statement runs without ORM set-up on every check-in.
    users, settings = table_of(User).c, table_of(ConsultantSettings).c
    visits, rules = table_of(Visit).c, table_of(RuleSet).c
    load = load_by_owner(store_id, table_of(Opportunity))
    busy = (
        select(visits.consultant_id, func.count().label("n"))
        .where(visits.store_id == store_id, visits.status.in_(BUSY))
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
            func.coalesce(
                settings.load_cap, bindparam("p_default_cap", None, type_=Integer), default_cap
            ).label("c_cap"),
            settings.last_walk_in_at.label("c_last_walk_in_at"),
            settings.last_refill_at.label("c_last_refill_at"),
        )
        .select_from(table_of(User))
        .join(table_of(ConsultantSettings), settings.user_id == users.id)
        .outerjoin(load, load.c.owner_id == users.id)
        .outerjoin(busy, busy.c.consultant_id == users.id)
        .where(users.store_id == store_id, users.role == Role.CONSULTANT.value)
        .order_by(users.id)
    )


def candidates(session: Session, store_id: int, default_cap: int | None = None) -> list[Candidate]:
    """Every consultant with presence, busy state, load and cap: one statement.
    ``default_cap``: the cap of those without their own (the store's current one when None;
    the what-if preview passes a draft's)."""
    return pool_from_rows(
        session.execute(
            candidates_statement(), {"p_store_id": store_id, "p_default_cap": default_cap}
        ).all()
    )


def pool_from_rows(rows: Sequence[Any]) -> list[Candidate]:
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
            r.c_last_refill_at,
        )
        for r in rows
        if r.c_id is not None
    ]


# --- the rule ----------------------------------------------------------------------------------


def passed_over(
    candidate: Candidate,
    *,
    declined: Collection[int] = (),
    walk_in: bool,
    own: bool = False,
    over_cap_ok: bool = False,
    grade: str | None = None,
) -> str | None:
    """Why the rule passes this consultant over for this customer, or None: they may have them.

    ``walk_in``: a visitor in the showroom, who needs a consultant on duty and free now.
    ``own``: the customer is already theirs (``own_consultant``): neither their cap nor a visitor
    they are with keeps the customer from them. ``over_cap_ok``: a manager confirmed that this
    assignment takes the consultant past the cap. ``grade``: the customer's (None: new); one who
    does not count towards a load (dormant C) is not kept from anyone by their cap."""
    if not candidate.active:
        return Skip.INACTIVE.value
    if candidate.user_id in declined:
        return Skip.DECLINED.value
    if walk_in and candidate.presence != Presence.ON_DUTY:
        return candidate.presence
    if own:
        return None
    if walk_in and candidate.busy:
        return Skip.BUSY.value
    if candidate.load >= candidate.cap and grade_counts_towards_load(grade) and not over_cap_ok:
        return Skip.AT_CAP.value
    return None


class Order(StrEnum):
    """Who comes first among those the rule lets have the customer."""

    ROTATION = "rotation"  # the walk-in rotation: longest since their last walk-in
    REFILL = "refill"  # the refill: most room, then longest since their last refilled customer
    NAMED = "named"  # only the preferred consultant (customer service, a manager, the desk)


@dataclass(frozen=True)
class Decision:
    consultant_id: int | None  # None: nobody (the visitor waits, the customer stays in the pool)
    reason: str | None
    candidates: list[dict[str, Any]]
    load: int | None = None
    cap: int | None = None
    name: str | None = None
    # Why the preferred consultant was passed over, when they were.
    preferred_skipped: str | None = None


def choose(
    pool: list[Candidate],
    *,
    order: Order,
    reason: str,
    walk_in: bool,
    preferred: int | None = None,
    preferred_reason: str | None = None,
    own: int | None = None,
    declined: Collection[int] = (),
    over_cap_ok: bool = False,
    grade: str | None = None,
) -> Decision:
    """The choice: ``preferred`` (an invitation's consultant, the customer's own, the one
    customer service or a manager names) when the rule lets them have the customer, else the
    first in ``order`` among those it lets, else nobody. Every candidate's record says why they
    were passed over. ``own``: the customer's own consultant."""
    by_id = {c.user_id: c for c in pool}
    chosen = by_id.get(preferred) if preferred is not None else None
    preferred_skipped: str | None = None
    if preferred is not None:
        if chosen is None:
            preferred_skipped = Skip.INACTIVE.value
        else:
            preferred_skipped = passed_over(
                chosen,
                declined=declined,
                walk_in=walk_in,
                own=preferred == own,
                over_cap_ok=over_cap_ok,
                grade=grade,
            )
    if chosen is not None and preferred_skipped is None:
        other = Skip.NOT_OWNER.value if walk_in else Skip.NOT_CHOSEN.value
        for c in pool:
            c.skipped = None if c is chosen else other
        return _decided(pool, chosen, preferred_reason or reason)
    for c in pool:
        if c is chosen:
            c.skipped = preferred_skipped
        elif order == Order.NAMED:
            c.skipped = Skip.NOT_CHOSEN.value
        else:
            c.skipped = passed_over(
                c, declined=declined, walk_in=walk_in, own=c.user_id == own, grade=grade
            )
    eligible = [c for c in pool if c.skipped is None]
    if not eligible:
        return Decision(
            None, None, [c.as_record() for c in pool], preferred_skipped=preferred_skipped
        )
    never = datetime.min

    def naive(at: datetime | None) -> datetime:
        return at.replace(tzinfo=None) if at else never

    if order == Order.REFILL:
        first = min(eligible, key=lambda c: (-c.room, naive(c.last_refill_at), c.user_id))
    else:
        first = min(eligible, key=lambda c: (naive(c.last_walk_in_at), c.user_id))
    for c in eligible:
        if c is not first:
            c.skipped = Skip.LATER.value
    return replace(_decided(pool, first, reason), preferred_skipped=preferred_skipped)


_REFUSALS = {
    Skip.DECLINED.value: N_("The customer asked not to have this consultant again."),
    Skip.AT_CAP.value: N_("This consultant is at their load cap."),
    Skip.BUSY.value: N_("This consultant is busy with another visitor."),
    Skip.ON_BREAK.value: N_("This consultant is on a break."),
    Skip.OFF_DUTY.value: N_("This consultant is off duty."),
}


def refusal(skipped: str | None) -> str:
    """The message for a named consultant the rule passed over (a message id to translate)."""
    return _REFUSALS.get(skipped or "", N_("Choose an active consultant of this store."))


def preferred_note(decision: Decision) -> str | None:
    """The note on an assignment that went past the preferred consultant: why (for instance
    ``preferred_off_duty``: the customer's own consultant was not on duty)."""
    if decision.preferred_skipped is None:
        return None
    return f"preferred_{decision.preferred_skipped}"


def _decided(pool: list[Candidate], chosen: Candidate, reason: str) -> Decision:
    return Decision(
        chosen.user_id,
        reason,
        [c.as_record() for c in pool],
        chosen.load,
        chosen.cap,
        chosen.name,
    )


def nobody(pool: list[Candidate], skipped: str = Skip.NOT_CHOSEN.value) -> Decision:
    """The decision to give the customer to no consultant (customer service, the pool): every
    candidate as dispatch saw them."""
    for c in pool:
        c.skipped = skipped
    return Decision(None, None, [c.as_record() for c in pool])


def took(
    pool: list[Candidate],
    decision: Decision,
    *,
    grade: str | None,
    new_owner: bool,
    walk_in_at: datetime | None = None,
    refill_at: datetime | None = None,
) -> None:
    """The pool as the next decision of the same batch sees it, once ``decision`` is applied to
    a customer of this grade: the taker's load, and their place in the rotation or the refill."""
    taker = next((c for c in pool if c.user_id == decision.consultant_id), None)
    if taker is None:
        return
    if new_owner and grade_counts_towards_load(grade):
        taker.load += 1
    if walk_in_at is not None:
        taker.busy = True
        taker.last_walk_in_at = walk_in_at
    if refill_at is not None:
        taker.last_refill_at = refill_at


def hand_over(
    session: Session,
    opportunity: Opportunity,
    at: datetime,
    *,
    to: int | None,
    reason: str,
    actor_id: int | None,
    pool_reason: str | None = None,
    note: str | None = None,
    follow_up_on: date | None = None,
) -> Decision:
    """One opportunity to the named consultant ``to`` (None: to customer service, or to the
    refill pool with ``pool_reason``), under the store's lock, when the rule lets them have the
    customer. Returns the decision: with nobody when the rule passed ``to`` over (nothing is
    written then; ``preferred_skipped`` says why). A customer who stays with their consultant
    changes no hands: callers do not call this for them."""
    store_id = opportunity.store_id
    lock_store(session, store_id)
    session.flush()  # the opportunity as the caller left it, before its columns are rewritten
    pool = candidates(session, store_id)
    if to is None:
        decision = nobody(pool)
    else:
        declined = declined_by(session, [opportunity.customer_id]).get(
            opportunity.customer_id, frozenset()
        )
        decision = choose(
            pool,
            order=Order.NAMED,
            reason=reason,
            walk_in=False,
            preferred=to,
            declined=declined,
            grade=opportunity.grade,
        )
        if decision.consultant_id is None:
            return decision
    apply(
        session,
        [
            OwnerChange(
                store_id,
                opportunity.id,
                opportunity.owner_id,
                decision,
                at,
                reason=reason,
                actor_id=actor_id,
                note=note,
                pool_reason=pool_reason,
                follow_up_on=follow_up_on,
            )
        ],
    )
    return decision


# --- the customer's own consultant and declines ---------------------------------------------


def own_consultant(customer_id: Any) -> ColumnElement[int | None]:
    """SQL: the customer's own consultant, the owner of their most recent opportunity that is
    open or won (a buyer who comes back goes to the consultant who sold them the car)."""
    o = table_of(Opportunity).alias("own_opportunity")
    return (
        select(o.c.owner_id)
        .where(
            o.c.customer_id == customer_id,
            o.c.status.in_((OpportunityStatus.OPEN.value, OpportunityStatus.WON.value)),
        )
        .order_by(o.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def declined_by(session: Session, customer_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """The consultants each customer declined (declines not lifted): one statement."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    found: dict[int, set[int]] = {}
    for customer_id, consultant_id in session.execute(
        select(Decline.customer_id, Decline.consultant_id).where(
            Decline.customer_id.in_(ids), Decline.lifted_at.is_(None)
        )
    ):
        found.setdefault(customer_id, set()).add(consultant_id)
    return {k: frozenset(v) for k, v in found.items()}


def record_decline(
    session: Session,
    store_id: int,
    customer_id: int,
    consultant_id: int,
    at: datetime,
    *,
    recorded_by: int | None,
    callback_task_id: int | None = None,
) -> None:
    """The customer said "not this consultant": kept with the others, never overwritten."""
    session.add(
        Decline(
            store_id=store_id,
            customer_id=customer_id,
            consultant_id=consultant_id,
            declined_at=at,
            recorded_by=recorded_by,
            callback_task_id=callback_task_id,
        )
    )


def lift_decline(
    session: Session, store_id: int, decline_id: int, actor_id: int, reason: str, at: datetime
) -> int:
    """A manager lifts a decline (the customer asked for that consultant after all), with a
    written reason; audited. Returns the customer's id."""
    lock_store(session, store_id)  # first: core/locks.py
    decline = session.get(Decline, decline_id)
    if decline is None or decline.store_id != store_id:
        raise NotFound("decline")
    if decline.lifted_at is not None:
        raise DomainError(N_("This decline has already been lifted."))
    text = (reason or "").strip()
    if not text:
        raise ValidationError({"reason": N_("Write why the decline is lifted.")})
    decline.lifted_at = at
    decline.lifted_by = actor_id
    decline.lift_reason = text
    audit.record(
        session,
        "decline.lifted",
        store_id=store_id,
        actor_id=actor_id,
        entity="customer",
        entity_id=decline.customer_id,
        data={"decline_id": decline.id, "consultant_id": decline.consultant_id},
    )
    return decline.customer_id


@dataclass(frozen=True)
class OwnerChange:
    """A change of an opportunity's owner as dispatch decided it, and who and what caused it."""

    store_id: int
    opportunity_id: int
    from_owner_id: int | None  # the opportunity's owner before
    decision: Decision  # to whom (nobody: customer service or the refill pool)
    at: datetime
    reason: str | None = None  # the decision's own reason when None
    actor_id: int | None = None  # None: the system
    job_run_id: int | None = None
    visit_id: int | None = None
    note: str | None = None
    pool_reason: str | None = None  # to nobody: into the refill pool for this reason
    walk_in: bool = False  # a visitor: the consultant's last walk-in (the rotation) is now
    refill_at: datetime | None = None  # the refill: the consultant's last refilled customer
    follow_up_on: date | None = None  # the new owner's first follow-up is due then
    written: bool = False  # the opportunity's owner columns are written already (a check-in)


def owner_columns(
    decision: Decision, at: datetime, pool_reason: str | None = None
) -> dict[str, Any]:
    """A new opportunity's owner columns as dispatch decided them (the check-in inserts them);
    ``apply`` writes the same into an existing one."""
    to = decision.consultant_id
    pooled = to is None and pool_reason is not None
    columns: dict[str, Any] = {
        "owner_id": to,
        "owner_since": at if to is not None else None,
        "pool_since": at if pooled else None,
        "pool_reason": pool_reason if pooled else None,
    }
    if to is not None:
        columns["next_callback_on"] = None  # the consultant follows up now, not customer service
    return columns


def visit_columns(decision: Decision, at: datetime) -> dict[str, Any]:
    """The visit's columns once dispatch has given it to the decided consultant."""
    return {
        "consultant_id": decision.consultant_id,
        "status": VisitStatus.ASSIGNED.value,
        "assigned_at": at,
    }


_a, _o, _v = table_of(Assignment), table_of(Opportunity), table_of(Visit)
_s, _i = table_of(ConsultantSettings), table_of(Invitation)


@cache
def _writing() -> tuple[Any, ...]:
    """The statements of ``apply``, built once (values as parameters)."""
    owner = bindparam("w_owner", type_=Integer)
    return (
        insert(_a),
        update(_o)
        .where(_o.c.id == bindparam("w_id", type_=Integer))
        .values(
            # The stall clock starts again only when the customer changes hands.
            owner_since=case_same_owner(owner, bindparam("w_since", type_=UTCDateTime)),
            owner_id=owner,
            pool_since=bindparam("w_pool_since", type_=UTCDateTime),
            pool_reason=bindparam("w_pool_reason"),
            next_follow_up_due=func.coalesce(
                bindparam("w_follow_up", type_=_o.c.next_follow_up_due.type),
                _o.c.next_follow_up_due,
            ),
            next_callback_on=case((owner.is_(None), _o.c.next_callback_on), else_=None),
        ),
        update(_i)
        .where(
            _i.c.opportunity_id == bindparam("w_id", type_=Integer),
            _i.c.status == InvitationStatus.SCHEDULED.value,
        )
        .values(consultant_id=owner),
        update(_s)
        .where(_s.c.user_id == bindparam("w_user", type_=Integer))
        .values(last_walk_in_at=bindparam("w_at", type_=UTCDateTime)),
        update(_s)
        .where(_s.c.user_id == bindparam("w_user", type_=Integer))
        .values(last_refill_at=bindparam("w_at", type_=UTCDateTime)),
    )


def case_same_owner(owner: Any, since: Any) -> Any:
    """SQL: the owner's stall clock stays when the owner stays, else it starts at ``since``."""
    return case((_o.c.owner_id == owner, _o.c.owner_since), else_=since)


def apply(session: Session, changes: Sequence[OwnerChange]) -> None:
    """Write changes of owner: each one's assignment (reason, who caused it, every candidate),
    the opportunity's owner columns (unless the check-in inserted them), its scheduled
    invitations now with the new owner, and the rotation's and the refill's order. One statement
    of each kind for the whole batch."""
    if not changes:
        return
    record, owner, invitations, walk_in, refilled = _writing()
    session.execute(
        record,
        [
            {
                "store_id": c.store_id,
                "opportunity_id": c.opportunity_id,
                "visit_id": c.visit_id,
                "from_owner_id": c.from_owner_id,
                "to_owner_id": c.decision.consultant_id,
                "assigned_at": c.at,
                "assigned_by": c.actor_id,
                "job_run_id": c.job_run_id,
                "reason": c.reason or c.decision.reason,
                "note": c.note,
                "to_load": c.decision.load,
                "to_cap": c.decision.cap,
                "candidates": c.decision.candidates,
            }
            for c in changes
        ],
    )
    moved = [c for c in changes if not c.written]
    if moved:
        rows = []
        for c in moved:
            columns = owner_columns(c.decision, c.at, c.pool_reason)
            rows.append(
                {
                    "w_id": c.opportunity_id,
                    "w_owner": columns["owner_id"],
                    "w_since": columns["owner_since"],
                    "w_pool_since": columns["pool_since"],
                    "w_pool_reason": columns["pool_reason"],
                    "w_follow_up": c.follow_up_on,
                }
            )
        connection = session.connection()
        connection.execute(owner, rows)
        connection.execute(
            invitations, [{"w_id": r["w_id"], "w_owner": r["w_owner"]} for r in rows]
        )
    for statement, stamps in (
        (walk_in, {c.decision.consultant_id: c.at for c in changes if c.walk_in}),
        (refilled, {c.decision.consultant_id: c.refill_at for c in changes if c.refill_at}),
    ):
        stamps.pop(None, None)
        if stamps:
            session.connection().execute(
                statement, [{"w_user": user, "w_at": at} for user, at in stamps.items()]
            )
    # Written with Core statements: objects this session already holds reload when next read.
    for c in changes:
        expire_loaded(session, Opportunity, c.opportunity_id)
        expire_loaded(session, ConsultantSettings, c.decision.consultant_id)


def assign_visit(session: Session, change: OwnerChange) -> None:
    """Give a recorded visit (a waiting visitor, or one the desk sends elsewhere) and its
    opportunity to the decided consultant: the change of owner, and the visit."""
    assert change.visit_id is not None and change.decision.consultant_id is not None
    apply(session, [change])
    session.execute(
        update(_v)
        .where(_v.c.id == change.visit_id)
        .values(visit_columns(change.decision, change.at))
    )
    expire_loaded(session, Visit, change.visit_id)


def preference(
    invitation_consultant_id: int | None, invitation_source: str | None, own: int | None
) -> tuple[int | None, str | None]:
    """Whom a visitor is for, and why: the consultant of today's invitation (customer service's
    or the consultant's own), else their own consultant, else nobody in particular."""
    if invitation_consultant_id is not None:
        if invitation_source == InvitationSource.CALLBACK.value:
            return invitation_consultant_id, AssignmentReason.REINVITE.value
        return invitation_consultant_id, AssignmentReason.INVITED.value
    if own is not None:
        return own, AssignmentReason.RETURNING_OWNER.value
    return None, None

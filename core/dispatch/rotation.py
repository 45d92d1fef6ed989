"""The dispatch rule of a visit: the candidates with their presence, busy state, load and cap;
the choice (own or invited consultant, else the rotation); the assignment that records it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from core.checkin.models import Visit
from core.db import UTCDateTime, expire_loaded, table_of
from core.dispatch.load import load_by_owner
from core.dispatch.models import Assignment
from core.enums import (
    BUSY,
    AssignmentReason,
    Presence,
    Role,
    VisitStatus,
)
from core.opportunities.models import Invitation, Opportunity
from core.rules.models import RuleSet
from core.stores.models import ConsultantSettings, User


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
def candidates_statement() -> Any:
    """Built once: consultants with presence, busy state, load and cap (the store's default
    cap from its latest rule set where they have none of their own)."""
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
            func.coalesce(settings.load_cap, default_cap).label("c_cap"),
            settings.last_walk_in_at.label("c_last_walk_in_at"),
        )
        .select_from(table_of(User))
        .join(table_of(ConsultantSettings), settings.user_id == users.id)
        .outerjoin(load, load.c.owner_id == users.id)
        .outerjoin(busy, busy.c.consultant_id == users.id)
        .where(users.store_id == store_id, users.role == Role.CONSULTANT.value)
        .order_by(users.id)
    )


def candidates(session: Session, store_id: int) -> list[Candidate]:
    """Every consultant with presence, busy state, load and cap: one statement."""
    return pool_from_rows(session.execute(candidates_statement(), {"p_store_id": store_id}).all())


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


@dataclass(frozen=True)
class VisitAssignment:
    """A visit given to a consultant: the decision, and who and what caused it."""

    store_id: int
    visit_id: int
    opportunity_id: int
    from_owner_id: int | None  # the opportunity's owner before
    decision: Decision
    at: datetime
    reason: str | None = None  # the decision's own reason when None
    actor_id: int | None = None
    note: str | None = None


_tables = {
    "assignments": table_of(Assignment),
    "opportunities": table_of(Opportunity),
    "visits": table_of(Visit),
    "settings": table_of(ConsultantSettings),
}


def owner_columns(decision: Decision) -> dict[str, Any]:
    """The opportunity's columns once dispatch has given it to the decided consultant: theirs,
    and out of the refill pool."""
    return {"owner_id": decision.consultant_id, "pool_since": None, "pool_reason": None}


def visit_columns(decision: Decision, at: datetime) -> dict[str, Any]:
    """The visit's columns once dispatch has given it to the decided consultant."""
    return {
        "consultant_id": decision.consultant_id,
        "status": VisitStatus.ASSIGNED.value,
        "assigned_at": at,
    }


@cache
def _assigning() -> tuple[Any, ...]:
    """The statements that give a visit to a consultant, built once (values as parameters)."""
    a, o, v, s = (_tables[k] for k in ("assignments", "opportunities", "visits", "settings"))
    at = bindparam("p_at", type_=UTCDateTime)
    return (
        insert(a),
        update(s)
        .where(s.c.user_id == bindparam("p_consultant_id", type_=Integer))
        .values(last_walk_in_at=at),
        update(o).where(o.c.id == bindparam("p_opportunity_id", type_=Integer)),
        update(v).where(v.c.id == bindparam("p_visit_id", type_=Integer)),
    )


def record_assignment(session: Session, given: VisitAssignment) -> None:
    """The assignment of a visit, with the reason and every candidate, and the consultant's last
    walk-in (the rotation's order). The caller writes ``owner_columns`` and ``visit_columns``
    into the opportunity and the visit: the check-in as it inserts them, ``assign_visit``
    otherwise."""
    decision = given.decision
    assert decision.consultant_id is not None
    record, walk_in, _owner, _visit = _assigning()
    session.execute(
        record,
        {
            "store_id": given.store_id,
            "opportunity_id": given.opportunity_id,
            "visit_id": given.visit_id,
            "from_owner_id": given.from_owner_id,
            "to_owner_id": decision.consultant_id,
            "assigned_at": given.at,
            "assigned_by": given.actor_id,
            "reason": given.reason or decision.reason,
            "note": given.note,
            "to_load": decision.load,
            "to_cap": decision.cap,
            "candidates": decision.candidates,
        },
    )
    session.execute(walk_in, {"p_consultant_id": decision.consultant_id, "p_at": given.at})
    expire_loaded(session, ConsultantSettings, decision.consultant_id)


def assign_visit(session: Session, given: VisitAssignment) -> None:
    """Give a recorded visit (a waiting visitor, or one the desk sends elsewhere) and its
    opportunity to the decided consultant: the assignment, the owner, the visit."""
    record_assignment(session, given)
    _record, _walk_in, owner, visit = _assigning()
    session.execute(
        owner.values(owner_columns(given.decision)), {"p_opportunity_id": given.opportunity_id}
    )
    session.execute(
        visit.values(visit_columns(given.decision, given.at)), {"p_visit_id": given.visit_id}
    )
    # Written with Core statements: objects this session already holds reload when next read.
    expire_loaded(session, Opportunity, given.opportunity_id)
    expire_loaded(session, Visit, given.visit_id)


def preference(
    session: Session, opportunity: Opportunity, invitation: Invitation | None
) -> tuple[int | None, str | None]:
    if invitation is not None and invitation.consultant_id is not None:
        return invitation.consultant_id, AssignmentReason.REINVITE.value
    if opportunity.owner_id is not None:
        return opportunity.owner_id, AssignmentReason.RETURNING_OWNER.value
    return None, None

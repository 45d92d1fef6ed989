"""The consultants of a store: presence, load against cap, book by grade."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Subquery, and_, func, or_, select
from sqlalchemy.orm import Session

from core.enums import HIGH_INTENT, OpportunityStatus, Role
from core.opportunities.models import Opportunity
from core.rules.rulesets import current_rules
from core.stores.models import ConsultantSettings, User

# Open opportunities that count towards a consultant's load: new (ungraded) or H/A/B.
LOAD_GRADES = frozenset({"new", *(g.value for g in HIGH_INTENT)})


def counts_towards_load() -> ColumnElement[bool]:
    """SQL condition: an opportunity that counts towards its owner's load."""
    return and_(
        Opportunity.status == OpportunityStatus.OPEN.value,
        or_(Opportunity.grade.is_(None), Opportunity.grade.in_([g.value for g in HIGH_INTENT])),
    )


@dataclass
class Seat:
    """A consultant as dispatch sees them: may they receive customers, and how much room."""

    user_id: int
    name: str
    active: bool
    load: int
    cap: int
    last_refill_at: datetime | None

    @property
    def room(self) -> int:
        return self.cap - self.load


def load_by_owner(store_id: int | ColumnElement[int]) -> Subquery:
    """(owner_id, load) for every consultant of the store who owns active customers."""
    return (
        select(Opportunity.owner_id, func.count().label("load"))
        .where(Opportunity.store_id == store_id, counts_towards_load())
        .where(Opportunity.owner_id.is_not(None))
        .group_by(Opportunity.owner_id)
        .subquery()
    )


def seats(session: Session, store_id: int, default_cap: int) -> list[Seat]:
    """Every consultant of the store with load and cap (``default_cap`` where they have no
    cap of their own): one statement."""
    load = load_by_owner(store_id)
    rows = session.execute(
        select(
            User.id,
            User.display_name,
            and_(User.active, ConsultantSettings.active),
            func.coalesce(load.c.load, 0),
            func.coalesce(ConsultantSettings.load_cap, default_cap),
            ConsultantSettings.last_refill_at,
        )
        .join(ConsultantSettings, ConsultantSettings.user_id == User.id)
        .outerjoin(load, load.c.owner_id == User.id)
        .where(User.store_id == store_id, User.role == Role.CONSULTANT.value)
        .order_by(User.id)
    ).all()
    return [Seat(r[0], r[1], bool(r[2]), int(r[3]), int(r[4]), r[5]) for r in rows]


@dataclass(frozen=True)
class ConsultantLoad:
    user_id: int
    display_name: str
    active: bool
    presence: str
    in_reception: bool
    load: int
    cap: int
    by_grade: dict[str, int] = field(default_factory=dict)

    @property
    def room(self) -> int:
        return self.cap - self.load


def consultant_loads(session: Session, store_id: int) -> list[ConsultantLoad]:
    """Every consultant of the store with load, cap and open book by grade: two statements."""
    default_cap = current_rules(session, store_id).default_load_cap
    grade_key = func.coalesce(Opportunity.grade, "new")
    counts = session.execute(
        select(
            Opportunity.owner_id,
            grade_key,
            func.count(),
        )
        .where(Opportunity.store_id == store_id, Opportunity.status == OpportunityStatus.OPEN.value)
        .where(Opportunity.owner_id.is_not(None))
        .group_by(Opportunity.owner_id, grade_key)
    ).all()
    by_owner: dict[int, dict[str, int]] = {}
    load: dict[int, int] = {}
    for owner_id, grade, n in counts:
        by_owner.setdefault(owner_id, {})[grade] = n
        if grade in LOAD_GRADES:
            load[owner_id] = load.get(owner_id, 0) + n
    rows = session.execute(
        select(User.id, User.display_name, ConsultantSettings)
        .join(ConsultantSettings, ConsultantSettings.user_id == User.id)
        .where(User.store_id == store_id, User.role == Role.CONSULTANT.value, User.active)
        .order_by(User.display_name)
    ).all()
    return [
        ConsultantLoad(
            user_id=user_id,
            display_name=name,
            active=settings.active,
            presence=settings.presence,
            in_reception=settings.current_visit_id is not None,
            load=load.get(user_id, 0),
            cap=settings.load_cap if settings.load_cap is not None else default_cap,
            by_grade=by_owner.get(user_id, {}),
        )
        for user_id, name, settings in rows
    ]

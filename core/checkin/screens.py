"""What the reception desk, a consultant's arrivals and the lobby board show of today's visits,
and why a visitor went to the consultant they went to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session, aliased

from core.checkin.models import Visit
from core.dispatch.authority import candidates
from core.dispatch.models import Assignment
from core.enums import (
    BUSY,
    Presence,
    VisitStatus,
)
from core.errors import NotFound
from core.opportunities.models import Customer
from core.phone import mask_mobile
from core.stores.models import CarModel, User
from core.timeutil import day_bounds_utc, local_date


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

"""The consultants of a store: presence, load against cap, book by grade."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.dispatch.authority import candidates
from core.dispatch.load import NEW
from core.enums import OpportunityStatus, Role
from core.opportunities.models import Opportunity
from core.stores.models import ConsultantSettings, User


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
    """Every consultant of the store with load, cap and open book by grade: three statements."""
    grade_key = func.coalesce(Opportunity.grade, NEW)
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
    for owner_id, grade, n in counts:
        assert owner_id is not None  # the statement counts owned opportunities only
        by_owner.setdefault(owner_id, {})[grade] = n
    # load and cap as dispatch sees them (the load rule and the default cap, written once)
    seen = {c.user_id: c for c in candidates(session, store_id)}
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
            load=seen[user_id].load,
            cap=seen[user_id].cap,
            by_grade=by_owner.get(user_id, {}),
        )
        for user_id, name, settings in rows
    ]

"""The load rule (DESIGN.md section 3 step 9): which open opportunities count towards a
consultant's load, as one SQL condition and one Python predicate that every path uses."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Subquery, and_, func, or_, select

from core.enums import HIGH_INTENT, OpportunityStatus
from core.opportunities.models import Opportunity

# Open opportunities that count towards a consultant's load: new (ungraded) or H/A/B.
LOAD_GRADES = frozenset({"new", *(g.value for g in HIGH_INTENT)})


def counts_towards_load() -> ColumnElement[bool]:
    """SQL condition: an opportunity that counts towards its owner's load."""
    return and_(
        Opportunity.status == OpportunityStatus.OPEN.value,
        or_(Opportunity.grade.is_(None), Opportunity.grade.in_([g.value for g in HIGH_INTENT])),
    )


def load_by_owner(store_id: int | ColumnElement[int]) -> Subquery:
    """(owner_id, load) for every consultant of the store who owns active customers."""
    return (
        select(Opportunity.owner_id, func.count().label("load"))
        .where(Opportunity.store_id == store_id, counts_towards_load())
        .where(Opportunity.owner_id.is_not(None))
        .group_by(Opportunity.owner_id)
        .subquery()
    )

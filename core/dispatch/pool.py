"""The refill pool (DESIGN.md section 3 step 9): open customers waiting for an owner (re-invited
to another consultant, released by a departed or over-cap consultant, returned by a manager, a
walk-in nobody could take). Every count and every hand-out reads it through ``in_pool``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_

from core.enums import OpportunityStatus
from core.opportunities.models import Opportunity


def in_pool(opportunities: Any = None) -> ColumnElement[bool]:
    """SQL: an opportunity in the refill pool. ``opportunities``: the table or an alias of it
    (the ORM entity when None)."""
    columns = Opportunity if opportunities is None else opportunities.c
    return and_(
        columns.status == OpportunityStatus.OPEN.value,
        columns.owner_id.is_(None),
        columns.pool_since.is_not(None),
    )

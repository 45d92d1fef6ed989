"""The load rule (DESIGN.md section 3 step 9) and the order of grades, written once.

A consultant's **load** is the number of open opportunities they own that are new (not yet
graded) or graded H, A or B; C, O and F do not count. Every page, check-in, refill, what-if and
report uses the SQL condition or the Python predicate below, never its own copy.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, case, func, or_, select

from core.enums import HIGH_INTENT, OpportunityStatus
from core.opportunities.models import Opportunity

# The grades that count towards a load, hottest first (H buys within 7 days, A 15, B 30).
LOAD_GRADE_VALUES: tuple[str, ...] = tuple(g.value for g in HIGH_INTENT)
# The key of an open opportunity not yet graded, where a book is counted by grade.
NEW = "new"
# A consultant's open book as the screens show it, in this order: new, then H, A, B.
BOOK_KEYS: tuple[str, ...] = (NEW, *LOAD_GRADE_VALUES)
LOAD_GRADES = frozenset(BOOK_KEYS)
# The order customers are listed in, hottest first: H, A, B, then new, then dormant C.
GRADE_ORDER: tuple[str | None, ...] = (*LOAD_GRADE_VALUES, None, "C")


def grade_counts_towards_load(grade: str | None) -> bool:
    """An open opportunity with this grade (None: not yet graded) counts towards the load."""
    return grade is None or grade in LOAD_GRADE_VALUES


def counts_towards_load(opportunities: Any = None) -> ColumnElement[bool]:
    """SQL: an opportunity that counts towards its owner's load. ``opportunities``: the
    opportunities table or an alias of it (the ORM entity when None)."""
    columns = Opportunity if opportunities is None else opportunities.c
    return and_(
        columns.status == OpportunityStatus.OPEN.value,
        or_(columns.grade.is_(None), columns.grade.in_(LOAD_GRADE_VALUES)),
    )


def grade_rank(grade: Any) -> ColumnElement[int]:
    """SQL: the place of ``grade`` in GRADE_ORDER (anything else after them)."""
    whens = [
        (grade.is_(None) if g is None else grade == g, rank) for rank, g in enumerate(GRADE_ORDER)
    ]
    return case(*whens, else_=len(GRADE_ORDER))


def load_by_owner(store_id: int | ColumnElement[int], opportunities: Any = None) -> Subquery:
    """(owner_id, load) for every consultant of the store who owns customers that count."""
    columns = Opportunity if opportunities is None else opportunities.c
    return (
        select(columns.owner_id, func.count().label("load"))
        .where(columns.store_id == store_id, counts_towards_load(opportunities))
        .where(columns.owner_id.is_not(None))
        .group_by(columns.owner_id)
        .subquery()
    )

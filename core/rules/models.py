"""Versioned rule sets of a store and their cycle rules per grade."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, JSONType, UTCDateTime, fk, one_of, utcnow
from core.enums import (
    CYCLE_GRADES,
)


class RuleSet(Base):
    """A version of a store's rules: load cap, retry limit, scoring. Never updated in place."""

    __tablename__ = "rule_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = fk("users.id")
    default_load_cap: Mapped[int] = mapped_column(Integer)
    callback_retry_limit: Mapped[int] = mapped_column(Integer)
    # {"indicators": [{"key", "options": [{"key", "points"}]}], "thresholds": {"H": .., ..}}
    scoring: Mapped[dict[str, Any]] = mapped_column(JSONType)

    cycle_rules: Mapped[list[CycleRule]] = relationship(
        back_populates="rule_set", order_by="CycleRule.grade", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("store_id", "version"),
        CheckConstraint("default_load_cap >= 0", name="default_load_cap"),
        CheckConstraint("callback_retry_limit BETWEEN 1 AND 10", name="retry_limit"),
    )


class CycleRule(Base):
    """Per grade: follow up every N days; at most M days without a revisit."""

    __tablename__ = "cycle_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_set_id: Mapped[int] = fk("rule_sets.id", ondelete="CASCADE")
    grade: Mapped[str] = mapped_column(String(1))
    follow_up_days: Mapped[int] = mapped_column(Integer)
    cycle_days: Mapped[int] = mapped_column(Integer)

    rule_set: Mapped[RuleSet] = relationship(back_populates="cycle_rules")

    __table_args__ = (
        UniqueConstraint("rule_set_id", "grade"),
        one_of("grade", CYCLE_GRADES),
        CheckConstraint("follow_up_days >= 1", name="follow_up_days"),
        CheckConstraint("cycle_days >= follow_up_days", name="cycle_days"),
    )

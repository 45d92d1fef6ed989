"""Visits: one per check-in, from arrival to the end of the reception."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, JSONType, UTCDateTime, fk, one_of, utcnow
from core.enums import (
    VisitPurpose,
    VisitSource,
    VisitStatus,
)
from core.opportunities.models import (
    Customer,
    Opportunity,
)
from core.stores.models import CarModel, User


class Visit(Base):
    """One walk-in: a check-in at the kiosk or by the receptionist."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    customer_id: Mapped[int] = fk("customers.id", index=True)
    opportunity_id: Mapped[int | None] = fk("opportunities.id", index=True)
    consultant_id: Mapped[int | None] = fk("users.id")
    invitation_id: Mapped[int | None] = fk("invitations.id", index=True)
    kiosk_device_id: Mapped[int | None] = fk("kiosk_devices.id")
    recorded_by: Mapped[int | None] = fk("users.id")  # receptionist for a manual check-in
    source: Mapped[str] = mapped_column(String(12))
    purpose: Mapped[str] = mapped_column(String(12))
    car_model_id: Mapped[int | None] = fk("car_models.id")
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default=VisitStatus.WAITING.value)
    is_first_visit: Mapped[bool] = mapped_column(Boolean, default=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reception_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reception_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When nobody could take the visitor at check-in: every consultant and why they were passed
    # over (the same records as Assignment.candidates).
    waiting_candidates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)

    customer: Mapped[Customer] = relationship()
    opportunity: Mapped[Opportunity | None] = relationship(foreign_keys=[opportunity_id])
    consultant: Mapped[User | None] = relationship(foreign_keys=[consultant_id])
    car_model: Mapped[CarModel | None] = relationship()

    __table_args__ = (
        one_of("source", VisitSource),
        one_of("purpose", VisitPurpose),
        one_of("status", VisitStatus),
        CheckConstraint("party_size BETWEEN 1 AND 20", name="party_size"),
        UniqueConstraint("store_id", "idempotency_key"),
        # Today's visitors and the waiting queue in arrival order.
        Index("ix_visits_store_checked_in", "store_id", "checked_in_at"),
        Index("ix_visits_store_status", "store_id", "status", "checked_in_at"),
        Index("ix_visits_consultant_status", "consultant_id", "status"),
    )

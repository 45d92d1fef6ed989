"""The audit trail: who did what to which record."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, JSONType, UTCDateTime, fk, utcnow

# The client address of the request being served, set by the web layer for each request (a job
# has none): every entry written meanwhile carries it.
_address: ContextVar[str | None] = ContextVar("audit_address", default=None)


def bind_address(address: str | None) -> None:
    _address.set((address or "")[:45] or None)


def current_address() -> str | None:
    return _address.get()


def record(
    session: Session,
    action: str,
    *,
    store_id: int | None,
    actor_id: int | None,
    entity: str | None = None,
    entity_id: int | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    session.add(
        AuditEvent(
            store_id=store_id,
            actor_id=actor_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            data=data,
            at=at or utcnow(),
            address=_address.get(),
        )
    )


class AuditEvent(Base):
    """Who did what to which record, with old and new values where they matter."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = fk("stores.id")
    actor_id: Mapped[int | None] = fk("users.id")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(48))
    entity: Mapped[str | None] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    address: Mapped[str | None] = mapped_column(String(45))  # the client's, for a request

    __table_args__ = (
        Index("ix_audit_events_store_time", "store_id", "at"),
        Index("ix_audit_events_entity", "entity", "entity_id"),
    )

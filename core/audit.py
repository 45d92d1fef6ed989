"""The audit trail: who did what to which record."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.models import AuditEvent


def record(
    session: Session,
    action: str,
    *,
    store_id: int | None,
    actor_id: int | None,
    entity: str | None = None,
    entity_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            store_id=store_id,
            actor_id=actor_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            data=data,
        )
    )

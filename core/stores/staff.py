"""The staff list an admin sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.stores.models import ConsultantSettings, User


@dataclass(frozen=True)
class StaffRow:
    id: int
    username: str
    display_name: str
    role: str
    active: bool
    last_login_at: datetime | None
    load_cap: int | None
    presence: str | None


def list_staff(session: Session, store_id: int) -> list[StaffRow]:
    rows = session.execute(
        select(User, ConsultantSettings)
        .outerjoin(ConsultantSettings, ConsultantSettings.user_id == User.id)
        .where(User.store_id == store_id)
        .order_by(User.role, User.username)
    ).all()
    return [
        StaffRow(
            u.id,
            u.username,
            u.display_name,
            u.role,
            u.active,
            u.last_login_at,
            cs.load_cap if cs else None,
            cs.presence if cs else None,
        )
        for u, cs in rows
    ]

"""Kiosk devices: an entrance tablet enrolled to one store by a member of staff.

The device keeps a random token in a long-lived cookie; only its SHA-256 digest is stored, so a
database leak does not let anyone impersonate a kiosk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, true, update
from sqlalchemy.orm import Session

from core import audit
from core.db import table_of
from core.enums import Role
from core.errors import PermissionDenied, ValidationError
from core.i18n import N_
from core.security import new_token, token_digest
from core.stores.models import KioskDevice, Store

ENROLLING_ROLES = (Role.CS_AGENT, Role.MANAGER, Role.ADMIN)
SEEN_EVERY = timedelta(minutes=5)  # how often last_seen_at is refreshed


@dataclass(frozen=True)
class Kiosk:
    id: int
    name: str
    store_id: int
    store_name: str
    timezone: str
    locale: str


def enrol(session: Session, *, store_id: int, name: str, role: str, user_id: int) -> str:
    """Enrol a device for the user's store; returns the token to keep in the device's cookie."""
    if role not in {r.value for r in ENROLLING_ROLES}:
        raise PermissionDenied(N_("Only customer service, managers and admins enrol kiosks."))
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationError({"name": N_("Give the device a name of up to 80 characters.")})
    token = new_token()
    device = KioskDevice(
        store_id=store_id, name=name, token_hash=token_digest(token), enrolled_by=user_id
    )
    session.add(device)
    session.flush()
    audit.record(
        session,
        "kiosk_enrolled",
        store_id=store_id,
        actor_id=user_id,
        entity="kiosk",
        entity_id=device.id,
        data={"name": name},
    )
    return token


@cache
def _device_statement() -> Any:
    """Built once: the device by its token digest, with its store (columns, not objects)."""
    device, store = table_of(KioskDevice).c, table_of(Store).c  # Core: no ORM query set-up
    return (
        select(
            device.id,
            device.name,
            device.last_seen_at,
            store.id.label("store_id"),
            store.name.label("store_name"),
            store.timezone,
            store.default_locale,
        )
        .join_from(table_of(KioskDevice), table_of(Store), store.id == device.store_id)
        .where(
            device.token_hash == bindparam("p_digest"),
            device.revoked_at.is_(None),
            store.active == true(),
        )
    )


def kiosk_for_token(session: Session, token: str | None, now: datetime) -> Kiosk | None:
    """The enrolled, not revoked device holding this token, or None (one statement; a second
    every few minutes to note that the device was seen)."""
    if not token:
        return None
    row = session.execute(_device_statement(), {"p_digest": token_digest(token)}).first()
    if row is None:
        return None
    if row.last_seen_at is None or now - row.last_seen_at > SEEN_EVERY:
        session.execute(
            update(table_of(KioskDevice))
            .where(table_of(KioskDevice).c.id == row.id)
            .values(last_seen_at=now)
        )
    return Kiosk(row.id, row.name, row.store_id, row.store_name, row.timezone, row.default_locale)


def revoke(session: Session, *, store_id: int, device_id: int, user_id: int, now: datetime) -> None:
    device = session.get(KioskDevice, device_id)
    if device is None or device.store_id != store_id:
        from core.errors import NotFound

        raise NotFound("kiosk")
    device.revoked_at = now
    audit.record(
        session,
        "kiosk_revoked",
        store_id=store_id,
        actor_id=user_id,
        entity="kiosk",
        entity_id=device_id,
    )

"""Stores and their staff."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enums import Presence, Role
from core.rules.rulesets import create_default_rules
from core.security import hash_password
from core.stores.models import CarModel, ConsultantSettings, Store, User

DEFAULT_TIMEZONE = "Asia/Shanghai"


def store_timezone(session: Session, store_id: int) -> str:
    """The store's time zone, in which "today" and "the next day" are counted (one statement)."""
    return session.scalar(select(Store.timezone).where(Store.id == store_id)) or DEFAULT_TIMEZONE


def create_store(
    session: Session,
    *,
    code: str,
    name: str,
    timezone: str = "Asia/Shanghai",
    car_models: Sequence[tuple[str, str]] = (),
) -> Store:
    """A store with its car models (name, brand) and the default rules."""
    store = Store(code=code, name=name, timezone=timezone)
    session.add(store)
    session.flush()
    session.add_all(
        CarModel(store_id=store.id, name=model, brand=brand, sort_order=i)
        for i, (model, brand) in enumerate(car_models)
    )
    create_default_rules(session, store.id)
    return store


class CarModelChoice(NamedTuple):
    id: int
    name: str


def car_models(session: Session, store_id: int) -> list[CarModelChoice]:
    """The store's active car models, in the store's order."""
    rows = session.execute(
        select(CarModel.id, CarModel.name)
        .where(CarModel.store_id == store_id, CarModel.active)
        .order_by(CarModel.sort_order, CarModel.id)
    ).all()
    return [CarModelChoice(r[0], r[1]) for r in rows]


def create_staff(
    session: Session,
    *,
    store_id: int,
    username: str,
    display_name: str,
    role: Role | str,
    password: str | None = None,
    password_hash: str | None = None,
    load_cap: int | None = None,
    presence: Presence = Presence.OFF_DUTY,
) -> User:
    """A member of staff; consultants also get their dispatch settings."""
    user = User(
        store_id=store_id,
        username=username,
        display_name=display_name,
        role=Role(role).value,
        password_hash=password_hash or hash_password(password or ""),
    )
    session.add(user)
    session.flush()
    if user.role == Role.CONSULTANT:
        session.add(
            ConsultantSettings(
                user_id=user.id, store_id=store_id, load_cap=load_cap, presence=presence.value
            )
        )
    return user

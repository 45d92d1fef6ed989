"""Stores, their car models, staff, consultants' settings and kiosk devices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, fk, one_of, utcnow
from core.enums import (
    Presence,
    Role,
)


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    default_locale: Mapped[str] = mapped_column(String(8), default="zh")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    car_models: Mapped[list[CarModel]] = relationship(
        back_populates="store", order_by="CarModel.sort_order"
    )

    __table_args__ = (one_of("default_locale", ("zh", "en")),)


class CarModel(Base):
    __tablename__ = "car_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id", ondelete="CASCADE")
    name: Mapped[str] = mapped_column(String(80))
    brand: Mapped[str] = mapped_column(String(80))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    store: Mapped[Store] = relationship(back_populates="car_models")

    __table_args__ = (UniqueConstraint("store_id", "name"),)


class User(Base):
    """A member of staff. Customers are not users."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id", index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store: Mapped[Store] = relationship()
    consultant: Mapped[ConsultantSettings | None] = relationship(
        back_populates="user", uselist=False
    )

    __table_args__ = (
        one_of("role", Role),
        one_of("locale", ("zh", "en"), nullable=True),
    )


class ConsultantSettings(Base):
    """What dispatch needs to know about a consultant."""

    __tablename__ = "consultant_settings"

    user_id: Mapped[int] = fk("users.id", ondelete="CASCADE", primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    # None means: the store's default cap from the current rule set.
    load_cap: Mapped[int | None] = mapped_column(Integer)
    # Inactive consultants receive no customers; their customers go to the refill pool.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    presence: Mapped[str] = mapped_column(String(16), default=Presence.OFF_DUTY.value)
    presence_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The visit being received right now, if any.
    current_visit_id: Mapped[int | None] = fk("visits.id", ondelete="SET NULL", use_alter=True)
    # Rotation order: longest since the last walk-in goes first.
    last_walk_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Refill fairness: longest since the last customer handed out goes first.
    last_refill_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="consultant")

    __table_args__ = (
        one_of("presence", Presence),
        CheckConstraint("load_cap IS NULL OR load_cap >= 0", name="load_cap"),
        Index("ix_consultant_settings_store_presence", "store_id", "active", "presence"),
    )


class KioskDevice(Base):
    """An entrance tablet enrolled to one store by a member of staff."""

    __tablename__ = "kiosk_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id", index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_by: Mapped[int] = fk("users.id")
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffSession(Base):
    """A signed-in browser of a member of staff: the cookie holds only its token, so signing
    out, signing out everywhere, a new password or deactivation end it on the server."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = fk("users.id")
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_why: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(45))

    __table_args__ = (Index("ix_staff_sessions_user", "user_id", "ended_at"),)


class SignInFailure(Base):
    """A failed sign-in, by the username typed (known or not: both are throttled alike)."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    address: Mapped[str | None] = mapped_column(String(45))

    __table_args__ = (Index("ix_sign_in_failures_username", "username", "at"),)

"""Staff sign-in and the identity the web layer keeps for the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from core.errors import AuthenticationFailed
from core.security import burn_password_check, verify_password
from core.stores.models import Store, User

MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class StaffIdentity:
    """What every request needs to know about the signed-in member of staff."""

    id: int
    username: str
    display_name: str
    role: str
    store_id: int
    store_name: str
    store_code: str
    timezone: str
    locale: str | None
    active: bool


def load_identity(session: Session, user_id: int) -> StaffIdentity | None:
    row = session.execute(
        select(User, Store).join(Store, Store.id == User.store_id).where(User.id == user_id)
    ).first()
    if row is None:
        return None
    user, store = row
    return StaffIdentity(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        store_id=store.id,
        store_name=store.name,
        store_code=store.code,
        timezone=store.timezone,
        locale=user.locale,
        active=user.active and store.active,
    )


def verify_credentials(session: Session, username: str, password: str) -> StaffIdentity:
    """Check a username and password without signing in (for instance to enrol a kiosk).
    The error never says whether the username exists."""
    user = session.scalars(
        select(User).where(func.lower(User.username) == (username or "").strip().lower())
    ).first()
    if user is None:
        burn_password_check(password or "")
        raise AuthenticationFailed()
    if not verify_password(user.password_hash, password or "") or not user.active:
        raise AuthenticationFailed()
    identity = load_identity(session, user.id)
    if identity is None or not identity.active:
        raise AuthenticationFailed()
    return identity


def authenticate(session: Session, username: str, password: str) -> StaffIdentity:
    """Sign in: check the password, note the time and write it to the audit trail."""
    identity = verify_credentials(session, username, password)
    user = session.get(User, identity.id)
    assert user is not None
    user.last_login_at = utcnow()
    audit.record(session, "sign_in", store_id=identity.store_id, actor_id=identity.id)
    return identity


def set_locale(session: Session, user_id: int, locale: str) -> None:
    user = session.get(User, user_id)
    if user is not None:
        user.locale = locale

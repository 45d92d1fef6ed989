"""Staff sign-in and the identity the web layer keeps for the signed-in user."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from core.errors import AuthenticationFailed, TooManyAttempts
from core.security import burn_password_check, verify_password
from core.stores.models import SignInFailure, Store, User

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


FREE_TRIES = 5  # failed sign-ins for a username before it waits
FIRST_WAIT = timedelta(seconds=30)  # then doubled with every failure
LONGEST_WAIT = timedelta(minutes=15)
FAILURES_COUNT_FOR = timedelta(hours=1)


def _key(username: str) -> str:
    return (username or "").strip().lower()[:64]


def throttled(session: Session, username: str, now: datetime) -> int:
    """Minutes to wait before this username may try again (0: it may). A username known or
    not waits alike, so the wait says nothing about which usernames exist. One statement."""
    count: int
    last: datetime | None
    count, last = session.execute(
        select(func.count(), func.max(SignInFailure.at)).where(
            SignInFailure.username == _key(username),
            SignInFailure.at > now - FAILURES_COUNT_FOR,
        )
    ).one()
    if count < FREE_TRIES or last is None:
        return 0
    wait = min(FIRST_WAIT * 2 ** (count - FREE_TRIES), LONGEST_WAIT)
    left: float = (last + wait - now).total_seconds()
    minutes: int = math.ceil(left / 60)
    return max(0, minutes)


def record_failure(session: Session, username: str, now: datetime) -> None:
    """Note a failed sign-in (it stands even though the request is refused: the caller keeps
    it), in the throttle and in the audit trail."""
    address = audit.current_address()
    session.add(SignInFailure(username=_key(username), at=now, address=address))
    audit.record(
        session,
        "sign_in.failed",
        store_id=None,
        actor_id=None,
        data={"username": _key(username)},
        at=now,
    )


def verify_credentials(
    session: Session, username: str, password: str, now: datetime | None = None
) -> StaffIdentity:
    """Check a username and password without signing in (for instance to enrol a kiosk).
    The error never says whether the username exists; a username that failed too often waits
    (``TooManyAttempts``), checked before the password."""
    wait = throttled(session, username, now or utcnow())
    if wait:
        raise TooManyAttempts(wait)
    user = session.scalars(select(User).where(func.lower(User.username) == _key(username))).first()
    if user is None:
        burn_password_check(password or "")
        raise AuthenticationFailed()
    if not verify_password(user.password_hash, password or "") or not user.active:
        raise AuthenticationFailed()
    identity = load_identity(session, user.id)
    if identity is None or not identity.active:
        raise AuthenticationFailed()
    return identity


def authenticate(
    session: Session, username: str, password: str, now: datetime | None = None
) -> StaffIdentity:
    """Sign in: check the password, note the time and write it to the audit trail; the
    username's failures are forgotten."""
    at = now or utcnow()
    identity = verify_credentials(session, username, password, at)
    user = session.get(User, identity.id)
    assert user is not None
    user.last_login_at = at
    session.execute(delete(SignInFailure).where(SignInFailure.username == _key(username)))
    audit.record(session, "sign_in", store_id=identity.store_id, actor_id=identity.id, at=at)
    return identity


def set_locale(session: Session, user_id: int, locale: str) -> None:
    user = session.get(User, user_id)
    if user is not None:
        user.locale = locale

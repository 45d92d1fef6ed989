"""Staff sessions kept on the server (issue 16): the browser's cookie holds only a token.
Signing out ends that session, signing out everywhere (or a new password, or deactivation)
ends all of a person's; a session also ends after ``ABSOLUTE`` whatever happens, and after the
idle time without the person doing anything (a page polling by itself is not activity)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import rowcount
from core.security import new_token, token_digest
from core.stores.models import StaffSession

ABSOLUTE = timedelta(hours=12)  # one working day, however active
IDLE = timedelta(minutes=30)  # the console's default; the app's CONSOLE_IDLE_MINUTES sets it
TOUCH_EVERY = timedelta(minutes=1)  # activity is written at most this often


def start(session: Session, user_id: int, now: datetime, address: str | None) -> str:
    """A new session for a sign-in; returns the token the browser keeps (a new one each
    time: the session id is renewed at sign-in)."""
    token = new_token()
    session.add(
        StaffSession(
            user_id=user_id,
            token_digest=token_digest(token),
            created_at=now,
            last_seen_at=now,
            address=(address or "")[:45] or None,
        )
    )
    return token


def check(
    session: Session,
    user_id: int,
    token: str | None,
    now: datetime,
    *,
    idle: timedelta = IDLE,
    activity: bool = True,
) -> bool:
    """Whether the browser's session is alive; a session past its lifetime or idle time is
    ended here. ``activity``: the person did something (a poll did not), which resets the
    idle clock."""
    if not token:
        return False
    row = session.scalars(
        select(StaffSession).where(
            StaffSession.token_digest == token_digest(token),
            StaffSession.user_id == user_id,
            StaffSession.ended_at.is_(None),
        )
    ).first()
    if row is None:
        return False
    if now - row.created_at >= ABSOLUTE:
        row.ended_at, row.ended_why = now, "expired"
        return False
    if now - row.last_seen_at >= idle:
        row.ended_at, row.ended_why = now, "idle"
        return False
    if activity and now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return True


def end(session: Session, token: str | None, now: datetime, why: str = "signed_out") -> None:
    """End the browser's session (signing out)."""
    if token:
        session.execute(
            update(StaffSession)
            .where(StaffSession.token_digest == token_digest(token))
            .where(StaffSession.ended_at.is_(None))
            .values(ended_at=now, ended_why=why)
        )


def end_all(session: Session, user_id: int, now: datetime, why: str) -> int:
    """End every session of a person (signing out everywhere, a new password, deactivation);
    returns how many were open."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, ended_why=why)
    )
    return rowcount(result)


@dataclass(frozen=True)
class OpenSession:
    id: int
    created_at: datetime
    last_seen_at: datetime
    address: str | None
    this_one: bool


def open_sessions(
    session: Session, user_id: int, now: datetime, token: str | None, idle: timedelta = IDLE
) -> list[OpenSession]:
    """A person's sessions that are still alive, newest first (this browser's marked)."""
    mine = token_digest(token) if token else ""
    rows = session.scalars(
        select(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
        .where(StaffSession.created_at > now - ABSOLUTE, StaffSession.last_seen_at > now - idle)
        .order_by(StaffSession.created_at.desc())
    )
    return [
        OpenSession(r.id, r.created_at, r.last_seen_at, r.address, r.token_digest == mine)
        for r in rows
    ]

"""Claiming a callback: one agent at a time calls a customer.

An agent claims a task before calling, with one conditional UPDATE: it succeeds when the task is
open and nobody else holds a *live* claim (younger than ``CLAIM_TTL``). A claim left idle longer
lapses without a background job: the worklist and the next claim simply treat it as free. Every
reading of a claim goes through ``claim_is_live`` or ``lapsed_claim``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from core.callbacks.models import CallbackTask
from core.db import rowcount
from core.enums import (
    CallbackStatus,
)
from core.errors import DomainError, NotFound
from core.i18n import N_
from core.locks import lock_store
from core.opportunities.access import Viewer, reveal_mobile

CLAIM_TTL = timedelta(minutes=30)


def claim_is_live(claimed_at: datetime | None, now: datetime) -> bool:
    """A claim made at ``claimed_at`` still holds at ``now``."""
    return claimed_at is not None and claimed_at >= now - CLAIM_TTL


def lapsed_claim(now: datetime) -> ColumnElement[bool]:
    """SQL: the task's claim has lapsed at ``now`` (a task nobody claimed has none)."""
    return CallbackTask.claimed_at < now - CLAIM_TTL


def _refusal(
    session: Session,
    store_id: int,
    task_id: int,
    otherwise: str = N_("Another agent is calling this customer."),
) -> DomainError:
    """Why a conditional update on a task touched no row (only asked after a refusal)."""
    row = session.execute(
        select(CallbackTask.store_id, CallbackTask.status).where(CallbackTask.id == task_id)
    ).first()
    if row is None or row.store_id != store_id:
        return NotFound("callback_task")
    if row.status != CallbackStatus.OPEN.value:
        return DomainError(N_("This callback is already closed."))
    return DomainError(otherwise)


def claim(session: Session, store_id: int, task_id: int, agent_id: int, now: datetime) -> None:
    """Take the task for a call: one conditional UPDATE, so two agents never both get it. A
    claim idle for longer than CLAIM_TTL may be taken over. Claiming gives back any other task
    the agent held (one call at a time)."""
    lock_store(session, store_id)  # first: core/locks.py
    taken = session.execute(
        update(CallbackTask)
        .where(
            CallbackTask.id == task_id,
            CallbackTask.store_id == store_id,
            CallbackTask.status == CallbackStatus.OPEN.value,
            or_(
                CallbackTask.claimed_by.is_(None),
                CallbackTask.claimed_by == agent_id,
                lapsed_claim(now),
            ),
        )
        .values(claimed_by=agent_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(taken) != 1:
        raise _refusal(session, store_id, task_id)
    session.execute(
        update(CallbackTask)
        .where(
            CallbackTask.store_id == store_id,
            CallbackTask.claimed_by == agent_id,
            CallbackTask.status == CallbackStatus.OPEN.value,
            CallbackTask.id != task_id,
        )
        .values(claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def _held(store_id: int, task_id: int, agent_id: int) -> ColumnElement[bool]:
    """SQL: the open task of the store that this agent holds (live or idle)."""
    return and_(
        CallbackTask.id == task_id,
        CallbackTask.store_id == store_id,
        CallbackTask.status == CallbackStatus.OPEN.value,
        CallbackTask.claimed_by == agent_id,
    )


def release(session: Session, store_id: int, task_id: int, agent_id: int) -> None:
    """Give the task back to the worklist. Only the agent holding it may."""
    lock_store(session, store_id)  # first: core/locks.py
    done = session.execute(
        update(CallbackTask)
        .where(_held(store_id, task_id, agent_id))
        .values(claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    if rowcount(done) != 1:
        raise _refusal(session, store_id, task_id, N_("You are not calling this customer."))
    session.expire_all()


def keep_claim(session: Session, store_id: int, task_id: int, agent_id: int, now: datetime) -> None:
    """The claimer is still at work: refresh the claim, or refuse when it is not theirs. A claim
    the agent let go idle is still theirs as long as nobody else took the task over."""
    lock_store(session, store_id)  # first: core/locks.py
    kept = session.execute(
        update(CallbackTask)
        .where(_held(store_id, task_id, agent_id))
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(kept) != 1:
        raise _refusal(
            session, store_id, task_id, N_("Claim this callback before you call the customer.")
        )


def reveal_task_mobile(session: Session, viewer: Viewer, task_id: int, now: datetime) -> str:
    """The customer's full number, only for the task the agent has claimed and is working
    (the need-to-know rule, ``core.opportunities.access``: audited and throttled)."""
    keep_claim(session, viewer.store_id, task_id, viewer.user_id, now)
    customer_id = session.scalar(select(CallbackTask.customer_id).where(CallbackTask.id == task_id))
    assert customer_id is not None
    return reveal_mobile(session, viewer, customer_id, now, task_id=task_id)

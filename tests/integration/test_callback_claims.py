"""Two agents claim the same callback at the same instant: exactly one gets it (real threads,
one committed session each, on SQLite and PostgreSQL)."""

import threading
from datetime import timedelta

from sqlalchemy.orm import Session

from core.callbacks import claims
from core.callbacks import service as callbacks
from core.callbacks.models import CallbackTask
from core.db import utcnow
from core.enums import Role
from core.errors import DomainError


def _race(app_engine, store_id, task_id, agents, now):
    start = threading.Barrier(len(agents))
    won, refused, errors = [], [], []

    def agent(agent_id: int) -> None:
        try:
            with Session(app_engine) as session:
                start.wait(timeout=30)
                try:
                    claims.claim(session, store_id, task_id, agent_id, now)
                    session.commit()
                    won.append(agent_id)
                except DomainError as exc:
                    session.rollback()
                    refused.append(exc.message)
        except Exception as exc:  # reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=agent, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return won, refused


def test_two_agents_at_once_only_one_gets_the_callback(app_engine, committed):
    store = committed.store()
    first = committed.user(store, Role.CS_AGENT)
    second = committed.user(store, Role.CS_AGENT)
    task = committed.callback_task(committed.customer(store))
    for _round in range(5):  # several rounds: the race must never let both through
        won, refused = _race(app_engine, store.id, task.id, [first.id, second.id], utcnow())
        assert len(won) == 1, (won, refused)
        assert refused == ["Another agent is calling this customer."]
        with Session(app_engine) as session:
            assert session.get(CallbackTask, task.id).claimed_by == won[0]
            claims.release(session, store.id, task.id, won[0])
            session.commit()


def test_two_agents_take_over_an_idle_claim_at_once(app_engine, committed):
    store = committed.store()
    idle = committed.user(store, Role.CS_AGENT)
    agents = [committed.user(store, Role.CS_AGENT).id for _ in range(4)]
    now = utcnow()
    task = committed.callback_task(
        committed.customer(store), claimed_by=idle.id, claimed_at=now - timedelta(minutes=45)
    )
    won, refused = _race(app_engine, store.id, task.id, agents, now)
    assert len(won) == 1 and len(refused) == 3
    with Session(app_engine) as session:
        assert session.get(CallbackTask, task.id).claimed_by == won[0]


def test_recording_and_a_takeover_at_once_never_both_succeed(app_engine, committed):
    """The claimer saves just as another agent tries to take the (idle) task over."""
    store = committed.store()
    holder = committed.user(store, Role.CS_AGENT)
    other = committed.user(store, Role.CS_AGENT)
    now = utcnow()
    task = committed.callback_task(
        committed.customer(store), claimed_by=holder.id, claimed_at=now - timedelta(minutes=40)
    )
    start = threading.Barrier(2)
    outcomes, errors = {}, []

    def save() -> None:
        try:
            with Session(app_engine) as session:
                start.wait(timeout=30)
                try:
                    callbacks.record_callback(
                        session,
                        store.id,
                        task.id,
                        holder.id,
                        now,
                        callbacks.CallbackForm(call_result="no_answer"),
                    )
                    session.commit()
                    outcomes["save"] = "ok"
                except DomainError as exc:
                    session.rollback()
                    outcomes["save"] = exc.message
        except Exception as exc:
            errors.append(repr(exc))

    def take() -> None:
        try:
            with Session(app_engine) as session:
                start.wait(timeout=30)
                try:
                    claims.claim(session, store.id, task.id, other.id, now)
                    session.commit()
                    outcomes["take"] = "ok"
                except DomainError as exc:
                    session.rollback()
                    outcomes["take"] = exc.message
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=save), threading.Thread(target=take)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(outcomes.values()).count("ok") == 1, outcomes
    with Session(app_engine) as session:
        final = session.get(CallbackTask, task.id)
        if outcomes["save"] == "ok":
            assert final.status == "done" and final.completed_by == holder.id
        else:
            assert final.status == "open" and final.claimed_by == other.id

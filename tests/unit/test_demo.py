"""The demo store: created once, consistent with the rules, deterministic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from core.callbacks.models import CallbackTask
from core.checkin.models import Visit
from core.db import Base, configure_sqlite
from core.dispatch.models import Assignment
from core.enums import (
    AssignmentReason,
    CallbackKind,
    CallbackOutcome,
    CallbackStatus,
    CallResult,
    JobKind,
    JobStatus,
    PoolReason,
    Presence,
    Role,
    VisitStatus,
)
from core.nightly import run as nightly
from core.nightly.models import JobRun
from core.opportunities.models import Customer, Opportunity
from core.rules.models import RuleSet
from core.stores.models import ConsultantSettings, Store, User
from core.timeutil import local_date
from demo.data import DEMO_STORE_CODE, DemoSummary, demo_clock, demo_logins, load_demo

TODAY = date(2026, 11, 29)


def _engine() -> Engine:
    engine = configure_sqlite(create_engine("sqlite://"))
    Base.metadata.create_all(engine)
    return engine


def _table_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[Session, DemoSummary]]:
    engine = _engine()
    with Session(engine) as session:
        summary = load_demo(session, today=TODAY)
        session.commit()
        yield session, summary
    engine.dispose()


def test_creates_the_store_with_its_staff(demo: tuple[Session, DemoSummary]) -> None:
    session, summary = demo
    assert summary.created
    store = session.get(Store, summary.store_id)
    assert store is not None and store.code == DEMO_STORE_CODE
    assert store.timezone == "Asia/Shanghai" and store.default_locale == "zh"
    assert len(store.car_models) == 10
    roles = {username: role for username, role in session.execute(select(User.username, User.role))}
    assert len(roles) == 12
    assert roles == {login.username: login.role for login in demo_logins()}
    assert list(roles.values()).count(Role.CONSULTANT) == 8
    assert list(roles.values()).count(Role.CS_AGENT) == 2
    assert summary.counts["customers"] == session.scalar(select(func.count(Customer.id)))
    assert 350 <= summary.counts["customers"] <= 550


def test_every_grade_and_a_new_opportunity(demo: tuple[Session, DemoSummary]) -> None:
    session, _ = demo
    grades = set(session.scalars(select(Opportunity.grade).distinct()))
    assert {"H", "A", "B", "C", "O", "F"} <= grades
    ungraded_open = session.scalar(
        select(func.count())
        .select_from(Opportunity)
        .where(Opportunity.status == "open", Opportunity.grade.is_(None))
    )
    assert ungraded_open and ungraded_open >= 1


def test_every_visit_status(demo: tuple[Session, DemoSummary]) -> None:
    session, _ = demo
    statuses = set(session.scalars(select(Visit.status).distinct()))
    assert statuses == {s.value for s in VisitStatus}


def test_every_callback_kind_on_todays_worklist(demo: tuple[Session, DemoSummary]) -> None:
    session, _ = demo
    open_tasks = session.scalars(
        select(CallbackTask).where(CallbackTask.status == CallbackStatus.OPEN)
    ).all()
    assert all(task.due_on <= TODAY for task in open_tasks)
    assert {task.kind for task in open_tasks} == {k.value for k in CallbackKind}
    assert 10 <= len(open_tasks) <= 40


def test_no_consultant_over_their_cap(demo: tuple[Session, DemoSummary]) -> None:
    session, _ = demo
    default_cap = session.scalars(select(RuleSet.default_load_cap)).one()
    caps = {
        user_id: cap if cap is not None else default_cap
        for user_id, cap in session.execute(
            select(ConsultantSettings.user_id, ConsultantSettings.load_cap)
        )
    }
    load_query = (
        select(Opportunity.owner_id, func.count())
        .where(
            Opportunity.status == "open",
            Opportunity.owner_id.is_not(None),
            Opportunity.grade.is_(None) | Opportunity.grade.in_(("H", "A", "B")),
        )
        .group_by(Opportunity.owner_id)
    )
    loads = {owner_id: n for owner_id, n in session.execute(load_query)}
    assert set(loads) <= set(caps)
    assert all(loads[user_id] <= caps[user_id] for user_id in loads), (loads, caps)


def test_no_open_task_for_a_customer_who_may_not_be_called(
    demo: tuple[Session, DemoSummary],
) -> None:
    session, _ = demo
    blocked = session.scalar(
        select(func.count())
        .select_from(CallbackTask)
        .join(Customer, Customer.id == CallbackTask.customer_id)
        .where(
            CallbackTask.status == CallbackStatus.OPEN,
            Customer.consent_at.is_(None) | Customer.do_not_contact,
        )
    )
    assert blocked == 0
    assert session.scalar(select(func.count()).where(Customer.do_not_contact)) >= 1
    assert session.scalar(select(func.count()).where(Customer.consent_at.is_(None))) >= 1


def test_a_second_load_changes_nothing(demo: tuple[Session, DemoSummary]) -> None:
    session, summary = demo
    before = _table_counts(session)
    again = load_demo(session, today=TODAY)
    session.flush()
    assert not again.created
    assert again.store_id == summary.store_id
    assert _table_counts(session) == before


def test_same_seed_same_data(demo: tuple[Session, DemoSummary]) -> None:
    session, summary = demo
    engine = _engine()
    with Session(engine) as other:
        repeat = load_demo(other, today=TODAY)
        other.commit()
        assert repeat.counts == summary.counts
        assert _table_counts(other) == _table_counts(session)
    engine.dispose()


def _dispatch_state(session: Session) -> tuple[Any, ...]:
    """What a nightly run could change: the callbacks, every owner, the assignments, the pool."""
    tasks = session.execute(
        select(
            CallbackTask.id,
            CallbackTask.customer_id,
            CallbackTask.kind,
            CallbackTask.status,
            CallbackTask.due_on,
        ).order_by(CallbackTask.id)
    ).all()
    owners = session.execute(select(Opportunity.id, Opportunity.owner_id).order_by(Opportunity.id))
    pool = session.scalars(
        select(Opportunity.id)
        .where(Opportunity.status == "open", Opportunity.owner_id.is_(None))
        .where(Opportunity.pool_since.is_not(None))
        .order_by(Opportunity.id)
    )
    assignments = session.scalar(select(func.count()).select_from(Assignment))
    return tasks, owners.all(), pool.all(), assignments


def test_every_day_shows_its_nightly_run_done(demo: tuple[Session, DemoSummary]) -> None:
    session, summary = demo
    runs = session.execute(
        select(JobRun.run_on, JobRun.status, JobRun.started_at, JobRun.requested_by).where(
            JobRun.store_id == summary.store_id, JobRun.kind == JobKind.NIGHTLY
        )
    ).all()
    done = {r.run_on for r in runs if r.status == JobStatus.SUCCEEDED}
    assert done == {TODAY - timedelta(days=n) for n in range(60)}
    failed = [r for r in runs if r.status == JobStatus.FAILED]
    assert len(failed) == 1  # and re-run by hand that morning
    assert any(r.run_on == failed[0].run_on and r.requested_by for r in runs)
    assert all(local_date(r.started_at, "Asia/Shanghai") == r.run_on for r in runs)


def test_running_any_night_again_changes_nothing(demo: tuple[Session, DemoSummary]) -> None:
    """Run now (or ``flask nightly --date``) on a date the demo shows as done: the demo's
    state is one the rules produce, so the run finds nothing left to do."""
    session, summary = demo
    _, now = demo_clock(TODAY)
    days = session.scalars(
        select(JobRun.run_on)
        .where(JobRun.store_id == summary.store_id, JobRun.status == JobStatus.SUCCEEDED)
        .distinct()
        .order_by(JobRun.run_on)
    ).all()
    assert len(days) == 60
    before = _dispatch_state(session)
    for day in days:
        savepoint = session.begin_nested()
        later = now + timedelta(minutes=1)
        counts = nightly.run(
            session, nightly.store_context(session, summary.store_id, day, later, None)
        )
        session.flush()
        assert _dispatch_state(session) == before, (day, counts)
        savepoint.rollback()
        session.expire_all()


def test_every_reason_recorded_is_defined_and_labelled(demo: tuple[Session, DemoSummary]) -> None:
    """Assignment reasons and pool reasons are core's enumerations; the reasons a candidate was
    passed over are literals of core's dispatch and refill, listed by their labels."""
    from web.labels import LABELS

    session, _ = demo
    reasons = set(session.scalars(select(Assignment.reason).distinct()))
    assert reasons <= {r.value for r in AssignmentReason} & set(LABELS["assignment_reason"])
    records = [
        c
        for column in (Assignment.candidates, Visit.waiting_candidates)
        for candidates in session.scalars(select(column))
        for c in candidates or ()  # JSON null where nobody was passed over
    ]
    skipped = {c["skipped"] for c in records if c["skipped"] is not None}
    assert {"later_in_rotation", "at_cap"} <= skipped <= set(LABELS["skip_reason"])
    pool_reasons = {p.value for p in PoolReason} & set(LABELS["pool_reason"])
    for reason, note in session.execute(
        select(Assignment.reason, Assignment.note).where(Assignment.note.is_not(None)).distinct()
    ):
        if reason in (AssignmentReason.REFILL, AssignmentReason.RELEASED):
            assert note in pool_reasons, note
        elif note.isascii():  # a note the system writes, not a person
            assert note in LABELS["assignment_note"], note
    in_pool = set(session.scalars(select(Opportunity.pool_reason).distinct())) - {None}
    assert in_pool <= pool_reasons
    kinds, results, outcomes = (
        set(session.scalars(select(column).distinct())) - {None}
        for column in (CallbackTask.kind, CallbackTask.call_result, CallbackTask.outcome)
    )
    assert kinds == {k.value for k in CallbackKind} and kinds <= set(LABELS["callback_kind"])
    assert results <= {r.value for r in CallResult} & set(LABELS["call_result"])
    assert outcomes == {o.value for o in CallbackOutcome} & set(LABELS["callback_outcome"])
    for counts in session.scalars(select(JobRun.counts)):
        assert set(counts or {}) <= set(LABELS["count"])


def test_the_floor_now(demo: tuple[Session, DemoSummary]) -> None:
    """Four consultants on duty, one on a break, the others off; someone is waiting."""
    session, _ = demo
    presence = sorted(session.scalars(select(ConsultantSettings.presence)))
    assert presence.count(Presence.ON_DUTY) == 4 and presence.count(Presence.ON_BREAK) == 1
    waiting = session.scalar(
        select(func.count()).select_from(Visit).where(Visit.status == VisitStatus.WAITING)
    )
    assert waiting and waiting >= 1

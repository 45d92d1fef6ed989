"""Job runs record the times they are given (a simulated clock), or the real clock."""

from datetime import UTC, date, datetime, timedelta

from core.db import utcnow
from core.enums import JobKind, JobStatus
from core.nightly import jobruns
from core.nightly.models import JobRun

ONE = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)  # 01:00 in Shanghai on 29 November


def test_a_run_keeps_the_times_it_is_given(factory, session):
    store = factory.store()
    run_id = jobruns.create(
        session, JobKind.NIGHTLY, store_id=store.id, run_on=date(2026, 11, 29), now=ONE
    )
    jobruns.start(session, run_id, now=ONE + timedelta(seconds=1))
    jobruns.finish(session, run_id, {"dormant": 2}, now=ONE + timedelta(seconds=4))
    run = session.get(JobRun, run_id)
    assert run is not None and run.status == JobStatus.SUCCEEDED
    assert (run.created_at, run.started_at, run.finished_at) == (
        ONE,
        ONE + timedelta(seconds=1),
        ONE + timedelta(seconds=4),
    )
    failed = jobruns.create(session, JobKind.NIGHTLY, store_id=store.id, now=ONE)
    jobruns.fail(session, failed, "boom", now=ONE + timedelta(seconds=31))
    assert session.get(JobRun, failed).finished_at == ONE + timedelta(seconds=31)


def test_without_a_time_a_run_uses_the_clock(factory, session):
    store = factory.store()
    before = utcnow()
    run_id = jobruns.create(session, JobKind.NIGHTLY, store_id=store.id)
    jobruns.start(session, run_id)
    jobruns.finish(session, run_id, {})
    run = session.get(JobRun, run_id)
    assert run is not None
    assert before <= run.created_at <= run.started_at <= run.finished_at <= utcnow()


def _state(session, run_id):
    session.expire_all()
    run = session.get(JobRun, run_id)
    assert run is not None
    return run.status, run.attempts, run.queue_job


def test_of_two_deliveries_or_two_dispatchers_only_one_acts(factory, session):
    """Every change of an outstanding run is a conditional update (the outbox relies on it)."""
    store = factory.store()
    run_id = jobruns.create(session, JobKind.NIGHTLY, store_id=store.id, run_on=ONE.date())
    assert jobruns.mark_sent(session, run_id, 0, ONE) == f"run-{run_id}-1"
    assert jobruns.mark_sent(session, run_id, 0, ONE) is None  # another dispatcher was first
    assert jobruns.start(session, run_id, now=ONE, queue_job="delivery-a")
    assert not jobruns.start(session, run_id, now=ONE, queue_job="delivery-b")
    jobruns.skip(session, run_id, "another run holds the lock")  # the second delivery's
    assert _state(session, run_id) == ("running", 1, "delivery-a")
    assert jobruns.mark_sent(session, run_id, 1, ONE) is None  # a running run is not re-sent
    jobruns.finish(session, run_id, {}, now=ONE)
    jobruns.fail(session, run_id, "late error of a duplicate")
    assert _state(session, run_id) == ("succeeded", 1, "delivery-a")


def test_an_interrupted_run_is_replaced_once(factory, session):
    store = factory.store()
    manager = factory.user(store, "manager")
    run_id = jobruns.create(
        session, JobKind.NIGHTLY, store_id=store.id, run_on=ONE.date(), requested_by=manager.id
    )
    jobruns.mark_sent(session, run_id, 0, ONE)
    jobruns.start(session, run_id, now=ONE, queue_job="killed")
    assert jobruns.interrupt(session, run_id, "another", ONE) is None  # not that delivery's
    new_id = jobruns.interrupt(session, run_id, "killed", ONE)
    assert new_id is not None and jobruns.interrupt(session, run_id, "killed", ONE) is None
    old, new = session.get(JobRun, run_id), session.get(JobRun, new_id)
    assert (old.status, old.error) == ("failed", jobruns.INTERRUPTED)
    assert (new.status, new.attempts, new.store_id, new.run_on, new.requested_by) == (
        "queued",
        0,
        store.id,
        ONE.date(),
        manager.id,
    )
    assert [r.id for r in jobruns.outstanding(session, ids=[run_id, new_id])] == [new_id]

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

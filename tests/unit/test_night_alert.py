"""A missed or failed night is visible (issue 15): the start pages' alert, from the job runs."""

from __future__ import annotations

from datetime import date, time, timedelta

from core.enums import JobKind
from core.nightly import jobruns
from core.timeutil import local_moment

TZ = "Asia/Shanghai"
D = date(2026, 11, 30)


def at(hour: int, minute: int = 0, day: date = D):
    return local_moment(day, time(hour, minute), TZ)


def run(session, store, status: str, error: str | None = None, day: date = D) -> int:
    run_id = jobruns.create(session, JobKind.NIGHTLY, store_id=store.id, run_on=day, now=at(1))
    if status in ("running", "succeeded", "failed"):
        jobruns.start(session, run_id, at(1, 1))
    if status == "succeeded":
        jobruns.finish(session, run_id, {}, at(1, 2))
    if status == "failed":
        jobruns.fail(session, run_id, error or "boom", at(1, 2))
    session.flush()
    return run_id


def alert(session, store, hour: int, minute: int = 0):
    return jobruns.night_alert(session, store.id, at(hour, minute), TZ)


def test_a_night_that_succeeded_needs_nobody(factory, session):
    store = factory.store()
    run(session, store, "failed")
    run(session, store, "succeeded")
    assert alert(session, store, 9) is None


def test_a_failed_night_is_shown_at_once_with_its_reason(factory, session):
    store = factory.store()
    run(session, store, "failed", "OperationalError: could not connect")
    shown = alert(session, store, 2)
    assert (shown.run_on, shown.state, shown.error) == (
        D,
        "failed",
        "OperationalError: could not connect",
    )


def test_a_night_not_finished_or_never_started_is_shown_from_six(factory, session):
    store = factory.store()
    assert alert(session, store, 5, 59) is None
    assert alert(session, store, 6).state == "missing"
    run(session, store, "running")
    assert alert(session, store, 5) is None
    assert alert(session, store, 6, 30).state == "unfinished"
    # a retry after a failure is under way: not shown as failed
    other = factory.store()
    run(session, other, "failed")
    run(session, other, "queued")
    assert alert(session, other, 3) is None and alert(session, other, 7).state == "unfinished"


def test_a_traceback_is_shown_as_its_last_line(factory, session):
    store = factory.store()
    run(
        session, store, "failed", 'Traceback (most recent call last):\n  File "x.py"\nKeyError: 7\n'
    )
    assert alert(session, store, 2).error == "KeyError: 7"


def test_yesterdays_run_does_not_count_for_today(factory, session):
    store = factory.store()
    run(session, store, "succeeded", day=D - timedelta(days=1))
    assert alert(session, store, 8).state == "missing"

"""Nights are never lost (DESIGN.md section 3 step 9): the run of D also makes the lists of
the dates since the store's last successful run, at most a week back, each date's tasks due on
that date; once D has run, running it again changes nothing."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from core.callbacks.models import CallbackTask
from core.callbacks.tasks import worklist
from core.dispatch.models import Assignment
from core.enums import JobKind, Role
from core.nightly import jobruns
from core.nightly import run as nightly
from core.timeutil import local_moment

D = date(2026, 11, 30)
TZ = "Asia/Shanghai"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return local_moment(day, time(hour, minute), TZ)


def ago(days: int, hour: int = 10) -> datetime:
    return at(D - timedelta(days=days), hour)


def recorded(session, store, day: date, status: str = "succeeded") -> int:
    """A nightly run of ``day`` as the job records it, with the given end."""
    run_id = jobruns.create(session, JobKind.NIGHTLY, store_id=store.id, run_on=day, now=at(day, 1))
    if status == "succeeded":
        jobruns.finish(session, run_id, {}, now=at(day, 1, 1))
    elif status == "failed":
        jobruns.fail(session, run_id, "OperationalError", now=at(day, 1, 1))
    session.flush()
    return run_id


def run_night(session, store, day: date = D, now: datetime | None = None) -> dict[str, int]:
    """What jobs/nightly.py run_store does: record the run, run it, record its counts."""
    now = now or at(day, 1)
    run_id = jobruns.create(session, JobKind.NIGHTLY, store_id=store.id, run_on=day, now=now)
    jobruns.start(session, run_id, now=now)
    counts = nightly.run(session, nightly.store_context(session, store.id, day, now, run_id))
    jobruns.finish(session, run_id, counts, now=now)
    session.flush()
    session.expire_all()
    return counts


def tasks(session, store) -> list[tuple[int, str, date]]:
    """(customer, kind, due on) of the store's tasks, by date and customer."""
    return sorted(
        (
            (t.customer_id, t.kind, t.due_on)
            for t in session.scalars(select(CallbackTask).where(CallbackTask.store_id == store.id))
        ),
        key=lambda task: (task[2], task[0]),
    )


def test_missed_nights_are_made_on_the_next_run_each_due_on_its_own_date(factory, session):
    store = factory.store()
    anna = factory.consultant(store, name="Anna")
    agent = factory.user(store, Role.CS_AGENT, name="Cathy")
    recorded(session, store, D - timedelta(days=3))  # then no run for D-2 nor D-1
    dormant = factory.customer(store)  # graded C on D-3: called on D-2
    factory.opportunity(dormant, grade="C", graded_at=ago(3), dormant_by=anna.id)
    lost = factory.customer(store)  # defeated on D-2: called on D-1
    factory.opportunity(lost, owner=anna, grade="F", graded_at=ago(2), defeat_reason="price")
    stalled = factory.customer(store)  # H, no follow-up since D-5: stalled on D-2
    factory.opportunity(stalled, owner=anna, grade="H", created_at=ago(5), graded_at=ago(5))
    tonight = factory.customer(store)  # graded C on D-1: D's own list
    factory.opportunity(tonight, grade="C", graded_at=ago(1), dormant_by=anna.id)

    counts = run_night(session, store)

    assert tasks(session, store) == sorted(
        [
            (dormant.id, "dormant", D - timedelta(days=2)),
            (stalled.id, "stalled", D - timedelta(days=2)),
            (lost.id, "defeat", D - timedelta(days=1)),
            (tonight.id, "dormant", D),
        ],
        key=lambda task: (task[2], task[0]),
    )
    assert (counts["caught_up"], counts["dormant"], counts["defeat"], counts["stalled"]) == (
        2,
        2,
        1,
        1,
    )
    [late] = session.scalars(
        select(CallbackTask).where(
            CallbackTask.store_id == store.id, CallbackTask.kind == "stalled"
        )
    ).all()
    assert late.overdue_days == 1  # as D-2's run would have counted it
    work = worklist(session, store.id, D, agent.id, at(D, 9))
    assert work.overdue == 3 and work.total == 4
    assert [row.days_late for row in work.rows if row.customer_id == dormant.id] == [2]


def test_at_most_a_week_is_caught_up(factory, session):
    store = factory.store()
    anna = factory.consultant(store, name="Anna")
    recorded(session, store, D - timedelta(days=10))
    too_old = factory.customer(store)  # its call was due on D-8
    factory.opportunity(too_old, grade="C", graded_at=ago(9), dormant_by=anna.id)
    oldest = factory.customer(store)  # due on D-7: the oldest date made
    factory.opportunity(oldest, grade="C", graded_at=ago(8), dormant_by=anna.id)
    counts = run_night(session, store)
    assert counts["caught_up"] == 7
    assert tasks(session, store) == [(oldest.id, "dormant", D - timedelta(days=7))]


def test_a_run_of_d_again_changes_nothing(factory, session):
    store = factory.store()
    anna = factory.consultant(store, name="Anna")
    factory.consultant(store, name="Ben")
    recorded(session, store, D - timedelta(days=3))
    factory.opportunity(factory.customer(store), grade="C", graded_at=ago(3), dormant_by=anna.id)
    factory.opportunity(
        factory.customer(store), owner=anna, grade="F", graded_at=ago(2), defeat_reason="price"
    )
    factory.opportunity(
        factory.customer(store), grade="C", graded_at=ago(6), next_callback_on=D - timedelta(2)
    )
    factory.opportunity(factory.customer(store), grade="A", in_pool=True)
    first = run_night(session, store)
    assert first["caught_up"] == 2 and first["scheduled"] == 1 and first["refilled"] == 1
    snapshot = (
        tasks(session, store),
        session.scalar(select(func.count()).select_from(Assignment)),
    )
    again = run_night(session, store, now=at(D, 9))
    assert all(v == 0 for v in again.values()), again
    assert snapshot == (
        tasks(session, store),
        session.scalar(select(func.count()).select_from(Assignment)),
    )


def test_the_missed_dates_of_a_store(factory, session):
    store = factory.store()
    missed = lambda day=D: jobruns.missed_dates(session, store.id, day)  # noqa: E731
    assert missed() == []  # never run: nothing missed
    recorded(session, store, D - timedelta(days=4), status="failed")
    # its first night failed: every date from it on is made
    assert missed() == [D - timedelta(days=n) for n in (4, 3, 2, 1)]
    recorded(session, store, D - timedelta(days=3))
    recorded(session, store, D - timedelta(days=2), status="queued")  # lost in the queue
    assert missed() == [D - timedelta(days=2), D - timedelta(days=1)]
    assert missed(D - timedelta(days=3)) == []  # a date that succeeded, run again by date
    recorded(session, store, D - timedelta(days=1))
    assert missed() == []
    recorded(session, store, D)
    assert missed() == [] and missed(D + timedelta(days=1)) == []
    other = factory.store()  # another store's runs are its own
    recorded(session, other, D - timedelta(days=20))
    assert jobruns.missed_dates(session, other.id, D) == [
        D - timedelta(days=n) for n in range(7, 0, -1)
    ]

"""The nightly run end to end: from the console, the command line, a real RQ worker; killed
half-way and run again; two runs at once."""

import os
import signal
import subprocess
import sys
import time
from datetime import time as time_
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.callbacks.models import CallbackTask
from core.db import utcnow
from core.dispatch.models import Assignment
from core.nightly.models import JobRun
from core.opportunities.models import Customer, Opportunity
from core.stores.models import User
from core.timeutil import local_date, local_moment
from tests.integration.conftest import worker_env

ROOT = Path(__file__).resolve().parents[2]
REAL_SERVICES = os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")
needs_services = pytest.mark.skipif(
    not REAL_SERVICES, reason="PostgreSQL + Redis + rq worker: CI's second pass"
)


def scenario(committed, store):
    """A store with work of every kind for tonight."""
    today = local_date(utcnow(), store.timezone)
    yesterday_noon = utcnow() - timedelta(days=1)
    anna = committed.consultant(store, cap=3, name="Anna")
    committed.consultant(store, cap=10, name="Ben")
    dormant = committed.customer(store, surname="甲")
    committed.opportunity(dormant, grade="C", graded_at=yesterday_noon, dormant_by=anna.id)
    lost = committed.customer(store, surname="乙")
    committed.opportunity(lost, owner=anna, grade="F", graded_at=yesterday_noon)
    stalled = committed.customer(store, surname="丙")
    ten_days = utcnow() - timedelta(days=10)
    committed.opportunity(stalled, owner=anna, grade="H", created_at=ten_days, graded_at=ten_days)
    scheduled = committed.customer(store, surname="丁")
    committed.opportunity(scheduled, grade="C", graded_at=ten_days, next_callback_on=today)
    for _ in range(3):  # Anna: stalled H + 3 A = 4 > cap 3
        committed.opportunity(committed.customer(store, surname="戊"), owner=anna, grade="A")
    for grade in ("H", "B"):
        committed.opportunity(committed.customer(store, surname="己"), grade=grade, in_pool=True)
    # nobody in contact for four years: deleted, as the privacy notice promises
    four_years = utcnow() - timedelta(days=4 * 365)
    forgotten = committed.customer(store, surname="庚")
    forgotten.created_at = four_years
    committed.visit(forgotten, checked_in_at=four_years)
    committed.session.commit()
    return today


def outcome(engine, store_id):
    """What a run leaves behind, independent of ids."""
    with Session(engine) as s:
        order = {
            cid: i
            for i, cid in enumerate(
                s.scalars(
                    select(Customer.id).where(Customer.store_id == store_id).order_by(Customer.id)
                )
            )
        }
        tasks = sorted(
            (order[t.customer_id], t.kind, t.stall_rule, t.overdue_days, t.attempt, t.status)
            for t in s.scalars(select(CallbackTask).where(CallbackTask.store_id == store_id))
        )
        owners = sorted(
            (order[cid], name, pool_reason)
            for cid, name, pool_reason in s.execute(
                select(Opportunity.customer_id, User.display_name, Opportunity.pool_reason)
                .outerjoin(User, User.id == Opportunity.owner_id)
                .where(Opportunity.store_id == store_id)
            )
        )
        assignments = sorted(
            s.execute(
                select(Assignment.reason, func.count())
                .where(Assignment.store_id == store_id)
                .group_by(Assignment.reason)
            ).all()
        )
    return tasks, owners, assignments


def runs(engine, store_id):
    with Session(engine) as s:
        return s.scalars(
            select(JobRun).where(JobRun.store_id == store_id).order_by(JobRun.id)
        ).all()


def test_a_manager_runs_the_night_from_the_console(app, app_engine, signed_in, committed):
    web, _, store = signed_in("manager")
    scenario(committed, store)
    assert "夜间任务" in web.get("/console/").get_data(as_text=True)
    assert web.post("/console/nightly", {}).status_code == 302
    if app.config["REDIS_URL"]:
        worker(app, burst=True).wait(timeout=120)
    [run] = runs(app_engine, store.id)
    assert run.status == "succeeded", run.error
    assert run.counts["dormant"] == 1 and run.counts["defeat"] == 1
    assert run.counts["stalled"] == 1 and run.counts["scheduled"] == 1
    assert run.counts["released_over_cap"] == 1 and run.counts["refilled"] == 3
    page = web.get("/console/nightly").get_data(as_text=True)
    assert "成功" in page and "超上限转出 1" in page


def test_run_now_catches_up_the_nights_that_did_not_run(app, app_engine, signed_in, committed):
    web, _, store = signed_in("manager")
    today = local_date(utcnow(), store.timezone)
    last = today - timedelta(days=3)  # the last night that ran; none since
    committed.session.add(
        JobRun(kind="nightly", store_id=store.id, run_on=last, status="succeeded")
    )
    anna = committed.consultant(store, name="Anna")
    dormant = committed.customer(store, surname="甲")
    noon = time_(12)
    graded = local_moment(last, noon, store.timezone)
    committed.opportunity(dormant, grade="C", graded_at=graded, dormant_by=anna.id)
    lost = committed.customer(store, surname="乙")
    defeated = local_moment(last + timedelta(days=1), noon, store.timezone)
    committed.opportunity(lost, owner=anna, grade="F", graded_at=defeated)
    committed.session.commit()
    assert web.post("/console/nightly", {}).status_code == 302
    if app.config["REDIS_URL"]:
        worker(app, burst=True).wait(timeout=120)
    run = runs(app_engine, store.id)[-1]
    assert run.status == "succeeded", run.error
    assert (run.counts["caught_up"], run.counts["dormant"], run.counts["defeat"]) == (2, 1, 1)
    with Session(app_engine) as s:
        due = dict(
            s.execute(
                select(CallbackTask.customer_id, CallbackTask.due_on).where(
                    CallbackTask.store_id == store.id
                )
            ).all()
        )
    assert due == {dormant.id: last + timedelta(days=1), lost.id: last + timedelta(days=2)}
    page = web.get("/console/nightly").get_data(as_text=True)
    assert "补做漏跑日期 2" in page and "最多补七天" in page


def test_consultants_cannot_start_the_night(signed_in):
    web, _, _ = signed_in("consultant")
    assert web.post("/console/nightly", {}).status_code == 403


def test_the_command_runs_a_store_and_a_second_time_changes_nothing(app, app_engine, committed):
    store = committed.store()
    scenario(committed, store)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["nightly", "--store", store.code])
    assert first.exit_code == 0, first.output
    assert "dormant 1" in first.output and "refilled 3" in first.output
    assert "purged 1" in first.output
    before = outcome(app_engine, store.id)
    with Session(app_engine) as s:  # the forgotten customer is gone; everyone else is there
        surnames = s.scalars(select(Customer.surname).where(Customer.store_id == store.id)).all()
    assert len(surnames) == 9 and "庚" not in surnames
    second = runner.invoke(args=["nightly", "--store", store.code])
    assert second.exit_code == 0 and "refilled 0" in second.output
    assert "purged 0" in second.output
    assert outcome(app_engine, store.id) == before
    bad = runner.invoke(args=["nightly", "--store", store.code, "--date", "30/11/2026"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def worker(app, burst=True):
    """A real `rq worker` process on this run's database and Redis db."""
    args = [sys.executable, "-m", "rq.cli", "worker", "--url", app.config["REDIS_URL"]]
    return subprocess.Popen(
        [*args, *(["--burst"] if burst else []), "showroom"],
        cwd=ROOT,
        env=worker_env(app),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def enqueue_run(app, committed, store, day):
    """A run made and handed to the queue as the console does it (through the outbox)."""
    from core.enums import JobKind
    from core.nightly import jobruns
    from jobs import get_queue
    from jobs.outbox import enqueue_run as hand
    from jobs.outbox import mark_new

    run_id = jobruns.create(committed.session, JobKind.NIGHTLY, store_id=store.id, run_on=day)
    run, queue_job = mark_new(committed.session, run_id, utcnow())
    committed.session.commit()
    with app.app_context():
        hand(get_queue(), run, queue_job)
    return run_id


def blocked_backends(engine):
    """Backends of this database waiting for a lock (the run, stopped by our row locks)."""
    with engine.connect() as conn:
        return (
            conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
            .scalars()
            .all()
        )


def wait_for(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def hold_consultant_rows(app_engine, store_id):
    """Lock the rows the refill writes last, so a run stops half-way, inside its transaction."""
    conn = app_engine.connect()
    conn.begin()
    conn.execute(
        text("SELECT * FROM consultant_settings WHERE store_id = :s FOR UPDATE"), {"s": store_id}
    )
    return conn


@needs_services
def test_a_run_killed_half_way_and_run_again_ends_as_one_clean_run(app, app_engine, committed):
    clean, killed = committed.store(), committed.store()
    day = scenario(committed, clean)
    scenario(committed, killed)
    enqueue_run(app, committed, clean, day)
    worker(app).wait(timeout=120)
    expected = outcome(app_engine, clean.id)

    enqueue_run(app, committed, killed, day)
    gate = hold_consultant_rows(app_engine, killed.id)
    proc = worker(app, burst=False)
    [backend] = wait_for(lambda: blocked_backends(app_engine))
    kill_9(proc)

    gate.rollback()
    gate.close()
    wait_for(lambda: backend not in _backends(app_engine))
    half_done = outcome(app_engine, killed.id)
    assert half_done[0] == [] and half_done[2] == []  # the transaction left nothing behind

    enqueue_run(app, committed, killed, day)
    worker(app).wait(timeout=120)
    assert outcome(app_engine, killed.id) == expected
    statuses = [(r.status, r.error and r.error.split(":")[0]) for r in runs(app_engine, killed.id)]
    assert statuses == [("failed", "interrupted"), ("succeeded", None)]


def kill_9(proc):
    """kill -9 of the worker and of its work horse (RQ forks it into a session of its own)."""
    children = [
        int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _parent_of(pid) == proc.pid
    ]
    for pid in [*children, proc.pid]:
        os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert children, "the worker had no work horse: was the job running?"


def _parent_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _backends(engine):
    with engine.connect() as conn:
        return (
            conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
            .scalars()
            .all()
        )


@needs_services
def test_two_runs_at_once_one_works_the_other_stops(app, app_engine, committed):
    clean, twice = committed.store(), committed.store()
    day = scenario(committed, clean)
    scenario(committed, twice)
    enqueue_run(app, committed, clean, day)
    worker(app).wait(timeout=120)

    gate = hold_consultant_rows(app_engine, twice.id)
    enqueue_run(app, committed, twice, day)
    enqueue_run(app, committed, twice, day)
    workers = [worker(app), worker(app)]
    wait_for(lambda: blocked_backends(app_engine))
    wait_for(lambda: any(r.status == "skipped" for r in runs(app_engine, twice.id)))
    gate.rollback()
    gate.close()
    for proc in workers:
        proc.wait(timeout=120)
    statuses = sorted((r.status, r.error or "") for r in runs(app_engine, twice.id))
    assert [s for s, _ in statuses] == ["skipped", "succeeded"], statuses
    assert outcome(app_engine, twice.id) == outcome(app_engine, clean.id)


def test_stores_are_due_after_their_own_0100(app, committed):
    from core.timeutil import local_moment
    from jobs.nightly import due_stores

    shanghai = committed.store(timezone="Asia/Shanghai")
    london = committed.store(timezone="Europe/London")
    day = local_date(utcnow(), "Asia/Shanghai")
    before = local_moment(day, time_(0, 59), "Asia/Shanghai")  # 16:59 UTC the day before
    after = local_moment(day, time_(1, 0), "Asia/Shanghai")
    with app.app_context():
        assert (shanghai.id, day) not in due_stores(before)
        due = due_stores(after)
    assert (shanghai.id, day) in due
    assert (london.id, day - timedelta(days=1)) in due  # 17:00 in London, its own date
    with app.app_context():
        assert (london.id, day) not in due_stores(local_moment(day, time_(0, 30), "Europe/London"))
        assert (london.id, day) in due_stores(local_moment(day, time_(1, 0), "Europe/London"))
    committed.session.add(
        JobRun(kind="nightly", store_id=shanghai.id, run_on=day, status="succeeded")
    )
    committed.session.commit()
    with app.app_context():
        assert (shanghai.id, day) not in due_stores(after)


def test_the_cron_runs_again_a_night_that_failed_or_was_skipped(app, committed):
    """A queued or running run, however old, is the outbox's to see done (jobs/outbox.py):
    the cron makes no second run beside it."""
    from jobs.nightly import due_stores

    day = local_date(utcnow(), "Asia/Shanghai")
    after = local_moment(day, time_(1, 30), "Asia/Shanghai")
    lost, recent = after - timedelta(hours=3), after - timedelta(minutes=5)
    runs_of = {
        "missing": [],
        "failed": [("failed", lost, lost)],
        "skipped": [("skipped", recent, recent)],
        "queued_lost": [("queued", lost, None)],
        "running_lost": [("running", lost, lost)],
        "queued": [("queued", recent, None)],
        "running": [("running", lost, recent)],
        "succeeded": [("succeeded", lost, lost)],
        "failed_then_succeeded": [("failed", lost, lost), ("succeeded", recent, recent)],
        "only_yesterday": [],
    }
    stores = {}
    for name, history in runs_of.items():
        store = stores[name] = committed.store(timezone="Asia/Shanghai")
        for status, created, started in history:
            committed.session.add(
                JobRun(
                    kind="nightly",
                    store_id=store.id,
                    run_on=day,
                    status=status,
                    created_at=created,
                    started_at=started,
                )
            )
    committed.session.add(
        JobRun(
            kind="nightly",
            store_id=stores["only_yesterday"].id,
            run_on=day - timedelta(days=1),
            status="succeeded",
        )
    )
    committed.session.commit()
    with app.app_context():
        due = {store_id for store_id, on in due_stores(after) if on == day}
    assert {name for name, store in stores.items() if store.id in due} == {
        "missing",
        "failed",
        "skipped",
        "only_yesterday",
    }


@needs_services
def test_the_cron_entry_enqueues_due_stores_once(app, app_engine, committed, monkeypatch):
    import jobs.nightly
    from jobs.nightly import enqueue_due

    # a zone whose clock is past 01:30 right now
    zone = next(
        z
        for z in ("Pacific/Kiritimati", "Asia/Shanghai", "Europe/London", "America/Los_Angeles")
        if utcnow().astimezone(ZoneInfo(z)).time() >= time_(1, 30)
    )
    store = committed.store(timezone=zone)
    # Every store the other tests committed is due too: the worker runs this test's only.
    everyone = jobs.nightly.due_stores
    monkeypatch.setattr(
        jobs.nightly, "due_stores", lambda now: [d for d in everyone(now) if d[0] == store.id]
    )
    with app.app_context():
        first = enqueue_due()
        again = enqueue_due()
    assert first == 1 and again == 0
    assert [r.status for r in runs(app_engine, store.id)] == ["queued"]
    worker(app).wait(timeout=300)
    assert [r.status for r in runs(app_engine, store.id)] == ["succeeded"]


def test_a_failed_night_shows_on_the_start_pages_until_it_is_run(
    app, app_engine, signed_in, committed
):
    from core.enums import JobKind
    from core.nightly import jobruns

    web, _manager, store = signed_in("manager")
    agent, _, _ = signed_in("cs_agent", store=store)
    today = local_date(utcnow(), store.timezone)
    run_id = jobruns.create(committed.session, JobKind.NIGHTLY, store_id=store.id, run_on=today)
    jobruns.fail(committed.session, run_id, "OperationalError: the database went away")
    committed.session.commit()
    page = web.get("/console/").get_data(as_text=True)
    assert "昨晚的夜间任务失败" in page and "the database went away" in page
    assert 'action="/console/nightly"' in page
    page = agent.get("/console/").get_data(as_text=True)
    assert "昨晚的夜间任务失败" in page and 'action="/console/nightly"' not in page
    assert web.post("/console/nightly", {}).status_code == 302
    if app.config["REDIS_URL"]:
        worker(app, burst=True).wait(timeout=120)
    assert runs(app_engine, store.id)[-1].status == "succeeded"
    assert "昨晚的夜间任务" not in web.get("/console/").get_data(as_text=True)

"""The outbox (issue 15, finding 2): a nightly run asked for is done exactly once, whatever is
lost between the commit and the worker. Each test runs a Redis and an RQ worker of its own
(jobs.outbox.Worker, the worker `make worker` runs) and breaks them: the process dies between
its commit and the enqueue, Redis is down at the commit, Redis restarts with the job queued, the
work horse is killed half-way. The dispatcher's rule itself is tested on an in-memory queue."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta

import fakeredis
import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from core.db import utcnow
from core.enums import JobKind
from core.nightly import jobruns
from core.nightly.models import JobRun
from extensions import db
from tests.integration.conftest import Browser, new_client, worker_env
from tests.integration.test_nightly_jobs import (
    _parent_of,
    blocked_backends,
    hold_consultant_rows,
    runs,
    scenario,
    wait_for,
)
from wsgi import create_app

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


@pytest.fixture
def queued(app, own_redis):
    """The application with its jobs queued in the test's own Redis."""
    application = create_app(
        {
            "SECRET_KEY": "outbox-test",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": own_redis.url,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    yield application
    with application.app_context():
        db.engine.dispose()


def manager_of(application, committed, store):
    web = Browser(new_client(application))
    assert web.login(committed.user(store, "manager")).status_code == 302
    return web


def own_worker(application, own_redis, log_path, burst=True):
    """`rq worker` with the product's worker class, on the test's database and Redis."""
    args = [sys.executable, "-m", "rq.cli", "worker", "-w", "jobs.outbox.Worker"]
    args += ["--url", own_redis.url, *(["--burst"] if burst else []), "showroom"]
    env = {**worker_env(application), "REDIS_URL": own_redis.url}
    log = open(log_path, "ab")  # noqa: SIM115 (closed with the process by the caller's wait)
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log)


def a_minute_later(engine, store_id):
    """Let the outbox's grace pass: the fault cleared a minute after the run was asked for."""
    with Session(engine) as s, s.begin():
        for run in s.scalars(select(JobRun).where(JobRun.store_id == store_id)):
            run.created_at -= timedelta(minutes=1)
            if run.sent_at is not None:
                run.sent_at -= timedelta(minutes=1)


def nights(engine, store_id):
    return [
        (r.status, r.attempts, r.error and r.error.split(":")[0]) for r in runs(engine, store_id)
    ]


def done_once(engine, store_id):
    """Exactly one run succeeded, and it did the night's whole work (a second would find
    nothing to refill)."""
    succeeded = [r for r in runs(engine, store_id) if r.status == "succeeded"]
    assert len(succeeded) == 1, nights(engine, store_id)
    counts = succeeded[0].counts
    assert counts["refilled"] == 3 and counts["dormant"] == 1 and counts["defeat"] == 1


def queue_length(own_redis):
    return Redis(port=own_redis.port).llen("rq:queue:showroom")


@needs_redis
def test_a_run_committed_but_never_queued_is_handed_by_the_worker(
    queued, own_redis, app_engine, committed, monkeypatch, tmp_path
):
    import jobs.outbox

    store = committed.store()
    scenario(committed, store)
    web = manager_of(queued, committed, store)
    # the process dies between its commit and the enqueue
    monkeypatch.setattr(jobs.outbox, "enqueue_run", lambda *args: None)
    assert web.post("/console/nightly", {}).status_code == 302
    monkeypatch.undo()
    assert queue_length(own_redis) == 0
    assert nights(app_engine, store.id) == [("queued", 1, None)]

    a_minute_later(app_engine, store.id)
    own_worker(queued, own_redis, tmp_path / "worker.log").wait(timeout=120)
    assert nights(app_engine, store.id) == [("succeeded", 2, None)]
    done_once(app_engine, store.id)


@needs_redis
def test_run_now_with_redis_down_is_kept_and_done_once_redis_is_back(
    queued, own_redis, app_engine, committed, caplog, tmp_path
):
    store = committed.store()
    scenario(committed, store)
    web = manager_of(queued, committed, store)
    own_redis.stop()
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        response = web.post("/console/nightly", {})
    assert response.status_code == 302  # the manager gets no 500
    assert time.monotonic() - started < 10
    assert any("not queued" in r.getMessage() for r in caplog.records)
    assert nights(app_engine, store.id) == [("queued", 1, None)]

    own_redis.start()  # an empty Redis: nothing of the run is in it
    a_minute_later(app_engine, store.id)
    own_worker(queued, own_redis, tmp_path / "worker.log").wait(timeout=120)
    assert nights(app_engine, store.id) == [("succeeded", 2, None)]
    done_once(app_engine, store.id)


@needs_redis
def test_redis_restarted_with_the_job_queued_loses_nothing(
    queued, own_redis, app_engine, committed, tmp_path
):
    store = committed.store()
    scenario(committed, store)
    web = manager_of(queued, committed, store)
    assert web.post("/console/nightly", {}).status_code == 302
    assert queue_length(own_redis) == 1  # queued, and no worker yet
    own_redis.stop()
    own_redis.start()  # without persistence: the queued job is gone
    assert queue_length(own_redis) == 0

    a_minute_later(app_engine, store.id)
    own_worker(queued, own_redis, tmp_path / "worker.log").wait(timeout=120)
    assert nights(app_engine, store.id) == [("succeeded", 2, None)]
    done_once(app_engine, store.id)


def _horse_of(worker):
    horses = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent_of(p) == worker.pid]
    return horses[0] if horses else None


def _hold_the_database(engine, store_id):
    """Stop the run where it waits: on PostgreSQL on the rows it writes last, after its claim;
    on SQLite at its first write (the database's one write lock)."""
    if engine.dialect.name == "postgresql":
        return hold_consultant_rows(engine, store_id)
    conn = engine.connect()
    conn.exec_driver_sql("BEGIN IMMEDIATE")
    return conn


@needs_redis
def test_a_killed_work_horse_ends_with_the_night_done_once(
    queued, own_redis, app_engine, committed, tmp_path
):
    from jobs import get_queue
    from jobs.outbox import dispatch

    store = committed.store()
    scenario(committed, store)
    web = manager_of(queued, committed, store)
    assert web.post("/console/nightly", {}).status_code == 302
    [run] = runs(app_engine, store.id)
    gate = _hold_the_database(app_engine, store.id)
    worker = own_worker(queued, own_redis, tmp_path / "worker.log", burst=False)
    try:
        horse = wait_for(lambda: _horse_of(worker))
        if app_engine.dialect.name == "postgresql":
            wait_for(lambda: blocked_backends(app_engine))
        else:
            time.sleep(2)  # the horse waits for SQLite's write lock (busy timeout 10 s)
        os.kill(horse, signal.SIGKILL)
        connection = Redis(port=own_redis.port)
        wait_for(lambda: Job.fetch(run.queue_job, connection=connection).get_status() == "failed")
    finally:
        gate.rollback()
        gate.close()

    a_minute_later(app_engine, store.id)
    with queued.app_context():
        handed = dispatch(get_queue())
    try:
        wait_for(lambda: any(r.status == "succeeded" for r in runs(app_engine, store.id)))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    if app_engine.dialect.name == "postgresql":  # it had claimed the run: a new run replaces it
        assert handed == {"handed": 1, "interrupted": 1}
        assert nights(app_engine, store.id) == [
            ("failed", 1, "interrupted"),
            ("succeeded", 1, None),
        ]
    else:  # killed before its first write: the same run, handed again
        assert handed == {"handed": 1, "interrupted": 0}
        assert nights(app_engine, store.id) == [("succeeded", 2, None)]
    done_once(app_engine, store.id)


# -- the dispatcher's rule, on an in-memory queue (no worker: the jobs stay queued) ---------


@pytest.fixture
def memory_queue(app):
    queue = Queue("showroom", connection=fakeredis.FakeStrictRedis(), is_async=True)
    with app.app_context():
        yield queue


def _run(committed, store, status="queued", **values):
    today = utcnow().date()
    run_id = jobruns.create(committed.session, JobKind.NIGHTLY, store_id=store.id, run_on=today)
    committed.session.execute(
        update(JobRun).where(JobRun.id == run_id).values(status=status, **values)
    )
    committed.session.commit()
    return run_id


def test_the_dispatcher_hands_again_only_what_is_lost(app, app_engine, committed, memory_queue):
    from jobs.outbox import dispatch

    store = committed.store()
    today = utcnow().date()
    old = utcnow() - timedelta(minutes=5)
    just_now = utcnow()
    ids = {
        "never_handed": _run(committed, store, created_at=old),
        "just_made": _run(committed, store, created_at=just_now),
        "handed_and_waiting": _run(
            committed, store, created_at=old, sent_at=old, attempts=1, queue_job="waiting"
        ),
        "handed_and_gone": _run(
            committed, store, created_at=old, sent_at=old, attempts=1, queue_job="gone"
        ),
        "running_and_alive": _run(
            committed, store, "running", created_at=old, sent_at=old, attempts=1,
            queue_job="working", started_at=old,
        ),
        "running_and_killed": _run(
            committed, store, "running", created_at=old, sent_at=old, attempts=1,
            queue_job="killed", started_at=old,
        ),
        "done_outside_the_queue": _run(
            committed, store, "running", created_at=old, started_at=old
        ),
        "succeeded": _run(committed, store, "succeeded", created_at=old, sent_at=old),
    }  # fmt: skip
    with app_engine.begin() as conn:  # every run in the table is this test's
        conn.execute(
            text("UPDATE job_runs SET status = 'skipped' WHERE store_id <> :s AND status IN "
                 "('queued', 'running')"),
            {"s": store.id},
        )  # fmt: skip
    memory_queue.enqueue("jobs.system.probe", 0, job_id="waiting")
    working = memory_queue.enqueue("jobs.system.probe", 0, job_id="working")
    working.set_status("started")
    killed = memory_queue.enqueue("jobs.system.probe", 0, job_id="killed")
    killed.set_status("failed")

    counts = dispatch(memory_queue)
    assert counts == {"handed": 3, "interrupted": 1}
    by_id = {r.id: r for r in runs(app_engine, store.id)}
    state = {name: (by_id[i].status, by_id[i].attempts) for name, i in ids.items()}
    assert state == {
        "never_handed": ("queued", 1),
        "just_made": ("queued", 0),
        "handed_and_waiting": ("queued", 1),
        "handed_and_gone": ("queued", 2),
        "running_and_alive": ("running", 1),
        "running_and_killed": ("failed", 1),
        "done_outside_the_queue": ("running", 0),
        "succeeded": ("succeeded", 0),
    }
    [replacement] = [r for r in by_id.values() if r.id not in ids.values()]
    assert (replacement.status, replacement.attempts, replacement.run_on) == ("queued", 1, today)
    queued_ids = set(memory_queue.job_ids)
    assert {f"run-{ids['never_handed']}-1", f"run-{ids['handed_and_gone']}-2"} <= queued_ids
    assert f"run-{replacement.id}-1" in queued_ids
    # a second dispatcher right after finds nothing left to do
    assert dispatch(memory_queue) == {"handed": 0, "interrupted": 0}


def test_a_second_delivery_of_a_run_changes_nothing(app, app_engine, committed):
    from jobs.nightly import run_store

    store = committed.store()
    day = scenario(committed, store)
    run_id = jobruns.create(committed.session, JobKind.NIGHTLY, store_id=store.id, run_on=day)
    committed.session.commit()
    with app.app_context():
        first = run_store(store.id, day.isoformat(), run_id)
        second = run_store(store.id, day.isoformat(), run_id)
    assert first["refilled"] == 3 and second == {}
    [run] = runs(app_engine, store.id)
    assert run.status == "succeeded" and run.counts == first

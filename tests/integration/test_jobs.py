"""Jobs: enqueued after the commit with ids only, run inline or by a real RQ worker."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.nightly.models import JobRun
from tests.integration.conftest import worker_env

ROOT = Path(__file__).resolve().parents[2]


def _runs(engine, store_id):
    with Session(engine) as s:
        return s.scalars(select(JobRun).where(JobRun.store_id == store_id)).all()


def test_worker_probe_round_trip(app, app_engine, signed_in):
    web, admin, store = signed_in("admin")
    assert web.post("/console/system", {}).status_code == 302
    [run] = _runs(app_engine, store.id)
    assert run.kind == "probe" and run.requested_by == admin.id
    if not app.config["REDIS_URL"]:
        # embedded default: the job ran inline, in this process, after the commit
        assert run.status == "succeeded" and run.counts["pid"] == os.getpid()
        return
    assert run.status == "queued"
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
        cwd=ROOT,
        env=worker_env(app),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [run] = _runs(app_engine, store.id)
    assert run.status == "succeeded", run.error
    assert run.counts["pid"] != os.getpid()
    assert run.started_at <= run.finished_at
    page = web.get("/console/system").get_data(as_text=True)
    assert "成功" in page


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: runs in CI's 2nd pass")
def test_a_bare_rq_worker_runs_jobs_too(app, app_engine, signed_in):
    """`rq worker` without Flask finds the database from DATABASE_URL."""
    web, _, store = signed_in("admin")
    web.post("/console/system", {})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rq.cli",
            "worker",
            "--burst",
            "--url",
            app.config["REDIS_URL"],
            "showroom",
        ],
        cwd=ROOT,
        env=worker_env(app),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [run] = _runs(app_engine, store.id)
    assert run.status == "succeeded", run.error


def test_jobs_accept_ids_and_dates_only(app):
    from jobs import enqueue
    from jobs.system import probe

    with app.app_context(), pytest.raises(TypeError):
        enqueue(probe, {"name": "王先生", "mobile": "13800138000"})


def _failed_run(app, app_engine, committed, message: str):
    """A job run whose work raised ValueError(message), as recorded."""
    from core.enums import JobKind
    from core.nightly import jobruns
    from jobs.runtime import run_recorded

    store = committed.store()
    run_id = jobruns.create(committed.session, JobKind.PROBE, store_id=store.id)
    committed.session.commit()

    def explode(session):
        raise ValueError(message)

    with app.app_context(), pytest.raises(ValueError):
        run_recorded(run_id, explode)
    [run] = _runs(app_engine, store.id)
    return run


def test_a_failed_job_is_recorded_with_its_error(app, app_engine, committed):
    run = _failed_run(app, app_engine, committed, "disk on fire")
    assert run.status == "failed" and "disk on fire" in run.error and run.finished_at


def test_a_failed_jobs_recorded_error_holds_no_mobile_number(app, app_engine, committed):
    """The recorded traceback is shown to managers (the nightly page, the start page's banner):
    a number in an error's text (PostgreSQL quotes failing rows) is masked there too."""
    message = "DETAIL:  Failing row contains (7, null, 13912345678, 周)."
    run = _failed_run(app, app_engine, committed, message)
    assert "13912345678" not in run.error and "139****5678" in run.error

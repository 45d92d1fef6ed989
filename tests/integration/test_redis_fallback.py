"""Redis is optional at run time (issue 15, finding 1): with the rate limiter's Redis stopped,
staff still sign in and a visitor still checks in at the kiosk; the limits are counted in the
process's memory meanwhile (still enforced), and /healthz says so. The test starts and stops a
Redis of its own on another port, never the machine's."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from redis import Redis

from tests.factories import PASSWORD
from tests.integration.conftest import Browser, new_client
from tests.integration.test_kiosk import enrolled, new_visitor
from wsgi import create_app

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnRedis:
    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("own redis did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def limited(app, own_redis):
    """The application with its rate limits in the test's own Redis (jobs inline)."""
    application = create_app(
        {
            "SECRET_KEY": "fallback-test",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{own_redis.port}/0",
        }
    )
    yield application
    # the limiter is one object for the process: give the next tests memory counters again
    create_app(
        {
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )


def health(client) -> dict:
    return client.get("/healthz").get_json()["rate_limits"]


def test_sign_in_and_the_kiosk_work_while_the_limiters_redis_is_down(
    limited, own_redis, committed, caplog
):
    store = committed.store(name="西溪店")
    committed.consultant(store, name="张伟")
    manager = committed.user(store, "manager")
    staff = Browser(new_client(limited))
    assert health(staff.client) == {"storage": "redis", "status": "ok"}
    assert staff.login(manager, "wrong-pass").status_code == 401
    assert Redis(port=own_redis.port).dbsize() > 0  # counted in Redis while it is up

    own_redis.stop()
    assert health(staff.client)["status"] == "degraded"
    started = time.monotonic()
    assert staff.login(manager, "wrong-pass").status_code == 401  # not a 500
    assert any("falling back to in-memory" in r.getMessage() for r in caplog.records)
    response = staff.login(manager, PASSWORD)
    assert response.status_code == 302 and response.location.endswith("/console/")
    assert time.monotonic() - started < 5  # a dead Redis costs little, it does not hang

    kiosk = enrolled(limited, committed, store)
    new_visitor(kiosk, mobile="13912340099")
    response = kiosk.post("/kiosk/consent", {"consent": "yes"})
    assert response.status_code == 303 and response.location.endswith("/kiosk/done")
    assert "张伟" in kiosk.page("/kiosk/done")

    # the limits still hold, counted in memory: 20 tries a minute for one address
    intruder = Browser(new_client(limited))
    statuses = [intruder.login(manager, "wrong-pass").status_code for _ in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429

    own_redis.start()
    assert health(staff.client) == {"storage": "redis", "status": "ok"}


def test_run_now_with_the_queues_redis_down_is_kept_and_handed_again_by_the_cron(
    app, committed, caplog
):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from core.db import utcnow
    from core.nightly.models import JobRun
    from extensions import db
    from jobs.nightly import LOST_AFTER, due_stores

    dead = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    queue_down = create_app(
        {
            "SECRET_KEY": "queue-down",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": dead,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    store = committed.store(name="断网店")
    manager = committed.user(store, "manager")
    web = Browser(new_client(queue_down))
    assert web.login(manager).status_code == 302
    response = web.post("/console/nightly", {})
    assert response.status_code == 302  # the manager gets no 500
    assert any("not queued" in r.getMessage() for r in caplog.records)
    committed.session.expire_all()
    [run] = committed.session.scalars(select(JobRun).where(JobRun.store_id == store.id)).all()
    assert run.status == "queued"
    # nothing is lost: once the run is overdue, the cron hands the store again
    with app.app_context():
        later = utcnow() + LOST_AFTER + timedelta(minutes=1)
        while later.astimezone(ZoneInfo(store.timezone)).hour < 1:  # before the night's hour
            later += timedelta(hours=1)
        assert store.id in {store_id for store_id, _day in due_stores(later)}
        db.session.remove()
    with queue_down.app_context():
        db.engine.dispose()

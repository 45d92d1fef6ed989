"""Redis is optional at run time (issue 15, finding 1): with the rate limiter's Redis stopped,
staff still sign in and a visitor still checks in at the kiosk; the limits are counted in the
process's memory meanwhile (still enforced), and /healthz says so. The test starts and stops a
Redis of its own on another port, never the machine's."""

from __future__ import annotations

import shutil
import time

import pytest
from redis import Redis

from tests.factories import PASSWORD
from tests.integration.conftest import Browser, new_client
from tests.integration.test_kiosk import enrolled, new_visitor
from wsgi import create_app

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


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

    # the limits still hold, counted in memory: 20 number look-ups a minute for one tablet
    prober = enrolled(limited, committed, store)
    prober.get("/kiosk/mobile")
    statuses = [
        prober.post("/kiosk/mobile", {"mobile": f"139000000{n:02d}"}).status_code for n in range(21)
    ]
    assert 429 not in statuses[:19] and statuses[-1] == 429

    own_redis.start()
    assert health(staff.client) == {"storage": "redis", "status": "ok"}

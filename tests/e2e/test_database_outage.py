"""The database stopped under a running kiosk, in a real browser (issue 15, finding 3): a
PostgreSQL of the test's own is stopped while a visitor is at the privacy notice; the tablet
shows the kiosk's outage page in the visitor's language, asks the server by itself, and when
the database is started again goes back to the visitor's step, where the check-in goes through
once."""

from __future__ import annotations

import re
import shutil
import threading

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from core.checkin.models import Visit
from core.stores import kiosks
from tests.e2e.test_kiosk import T as KIOSK_T
from tests.e2e.test_kiosk import choose, start, tap_number
from tests.e2e.test_kiosk_outage import T
from web.kiosk_device import KIOSK_COOKIE

pytestmark = pytest.mark.skipif(
    shutil.which("pg_createcluster") is None, reason="no PostgreSQL server tools"
)


@pytest.fixture(scope="module")
def own_server(outage_app):
    """A live server of the application on the test's own PostgreSQL."""
    server = make_server("127.0.0.1", 0, outage_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield outage_app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_kiosk_rides_out_the_database_stopping_and_starting(
    page, own_server, own_pg, own_db, lang
):
    _, base = own_server
    t = T[lang]
    store = own_db.store(name="断电店")
    own_db.consultant(store, name="张伟")
    agent = own_db.user(store, "cs_agent")
    token = kiosks.enrol(
        own_db.session, store_id=store.id, name="入口平板", role="cs_agent", user_id=agent.id
    )
    own_db.session.commit()
    own_db.session.close()
    page.context.add_cookies([{"name": KIOSK_COOKIE, "value": token, "url": base}])
    page.goto(f"{base}/kiosk/")
    start(page, lang)
    tap_number(page, "13912346666")
    page.locator(".kiosk-next").click()
    page.locator("#surname").fill("李")
    choose(page, t["ms"])
    page.locator(".kiosk-next").click()
    choose(page, KIOSK_T[lang]["test_drive"])
    page.locator(".kiosk-next").click()
    expect(page).to_have_url(re.compile(r"/kiosk/consent$"))

    own_pg.stop()
    page.locator("#consent").check()
    page.locator(".kiosk-next").click()
    expect(page.locator("h1")).to_have_text(t["down"])
    expect(page.locator(".kiosk-retry")).to_contain_text(t["kept"])
    page.wait_for_timeout(6_000)  # a retry while the database is still down stays here
    expect(page.locator("h1")).to_have_text(t["down"])

    own_pg.start()
    expect(page).to_have_url(re.compile(r"/kiosk/consent$"), timeout=20_000)
    page.locator("#consent").check()
    page.locator(".kiosk-next").click()
    expect(page).to_have_url(re.compile(r"/kiosk/done$"))
    expect(page.locator("body")).to_contain_text("张伟")
    own_db.session.rollback()
    visits = own_db.session.scalars(select(Visit).where(Visit.store_id == store.id)).all()
    assert len(visits) == 1

"""The database stopped under a running kiosk and console (issue 15, findings 3 and 4): a
PostgreSQL of the test's own is stopped half-way through a visitor's check-in and started
again. Meanwhile every kiosk page is the kiosk's outage page (503, never a 500), the console
says the service is unavailable and what was typed is kept, and /healthz says the database is
down; once it is back, the same check-in goes through exactly once, however often it is sent."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from core.checkin.models import Visit
from core.stores import kiosks
from tests.integration.conftest import Browser, csrf_token, new_client
from tests.integration.test_kiosk import SESSION_COOKIE, new_visitor
from web.kiosk_device import KIOSK_COOKIE

pytestmark = pytest.mark.skipif(
    shutil.which("pg_createcluster") is None, reason="no PostgreSQL server tools"
)


class Tablet(Browser):
    """A kiosk that took its form token while the service was up (as the page it shows has)."""

    token = ""

    def post(self, path, data=None, **kw):
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kw)

    def get(self, path, **kw):
        return self.client.get(path, **kw)


def visits(own_db, store):
    own_db.session.rollback()
    return list(own_db.session.scalars(select(Visit).where(Visit.store_id == store.id)))


def test_the_database_stopped_under_a_running_kiosk(outage_app, own_pg, own_db):
    store = own_db.store(name="断电店")
    own_db.consultant(store, name="张伟")
    agent = own_db.user(store, "cs_agent")
    manager = own_db.user(store, "manager")
    token = kiosks.enrol(
        own_db.session, store_id=store.id, name="入口平板", role="cs_agent", user_id=agent.id
    )
    own_db.session.commit()
    tablet = Tablet(new_client(outage_app))
    tablet.client.set_cookie(KIOSK_COOKIE, token)
    tablet.token = csrf_token(tablet.client, "/kiosk/enrol")
    new_visitor(tablet, mobile="13912340066")
    staff = Browser(new_client(outage_app))
    assert staff.login(manager).status_code == 302
    staff_token = csrf_token(staff.client, "/console/")
    own_db.session.close()

    own_pg.stop()
    health = tablet.get("/healthz")
    assert health.status_code == 503 and health.get_json()["database"] != "ok"
    for attempt in range(2):  # the visitor taps again: the same answer, nothing saved
        response = tablet.post("/kiosk/consent", {"consent": "yes"})
        page = response.get_data(as_text=True)
        assert response.status_code == 503, attempt
        assert "签到暂时无法使用" in page and 'data-kiosk-retry="/kiosk/consent"' in page
    for path in ("/kiosk/", "/kiosk/consent", "/kiosk/done"):  # what the retry asks for
        response = tablet.get(path)
        assert response.status_code == 503, path
        assert "Internal Server Error" not in response.get_data(as_text=True)
    console = staff.client.post(
        "/console/rules/dispatch", data={"csrf_token": staff_token, "default_cap": "12"}
    )
    assert console.status_code == 503
    assert "您填写的内容仍在表单中" in console.get_data(as_text=True)
    assert staff.client.get("/console/").status_code == 503

    own_pg.start()
    assert tablet.get("/healthz").status_code == 200
    assert visits(own_db, store) == []  # nothing was saved during the outage
    response = tablet.get("/kiosk/consent")  # the outage page's retry comes back to the step
    assert response.status_code == 200
    first = tablet.post("/kiosk/consent", {"consent": "yes"})
    again = tablet.post("/kiosk/consent", {"consent": "yes"})  # a double tap, the same key
    assert first.status_code == 303 and first.location.endswith("/kiosk/done")
    assert again.status_code in (303, 200)
    [visit] = visits(own_db, store)
    assert visit.consultant_id is not None
    assert "张伟" in tablet.get("/kiosk/done").get_data(as_text=True)
    assert staff.client.get("/console/").status_code == 200  # staff carry on, signed in


def test_a_check_in_whose_answer_was_lost_in_an_outage_is_one_visit(
    outage_app, own_pg, own_db, monkeypatch
):
    """The check-in committed, then the database went away before the visitor saw the answer:
    the kiosk's resubmit, with the same idempotency key, finds the first visit."""
    from kiosk import views as kiosk_views

    store = own_db.store(name="闪断店")
    own_db.consultant(store, name="王芳")
    agent = own_db.user(store, "cs_agent")
    token = kiosks.enrol(
        own_db.session, store_id=store.id, name="入口平板", role="cs_agent", user_id=agent.id
    )
    own_db.session.commit()
    tablet = Tablet(new_client(outage_app))
    tablet.client.set_cookie(KIOSK_COOKIE, token)
    tablet.token = csrf_token(tablet.client, "/kiosk/enrol")
    new_visitor(tablet, mobile="13912340067")
    own_db.session.close()

    real = kiosk_views.check_in

    def commit_then_outage(session, request, *args, **kwargs):
        result = real(session, request, *args, **kwargs)
        session.commit()  # the visit is in the database ...
        own_pg.stop()  # ... and then the database is gone before the answer is rendered
        return result

    state = tablet.client.get_cookie(SESSION_COOKIE)
    assert state is not None
    with monkeypatch.context() as m:
        m.setattr(kiosk_views, "check_in", commit_then_outage)
        tablet.post("/kiosk/consent", {"consent": "yes"})
    tablet.client.set_cookie(SESSION_COOKIE, state.value)  # the answer never reached the tablet
    own_pg.start()
    resubmitted = []

    def counted(*args, **kwargs):
        resubmitted.append(args[1].idempotency_key)
        return real(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(kiosk_views, "check_in", counted)
        response = tablet.post("/kiosk/consent", {"consent": "yes"})
    assert response.status_code == 303 and response.location.endswith("/kiosk/done")
    [visit] = visits(own_db, store)
    assert resubmitted == [visit.idempotency_key]  # the same key, answered by the first visit
    assert visit.consultant_id is not None

"""One way to refuse (web.refusals), the commit point that commits only a request that was not
refused, and the one error-page factory (web.errors) in each area's look, a database outage
included."""

from __future__ import annotations

import pytest
from flask import redirect
from sqlalchemy import func, select

from core import audit
from core.audit import AuditEvent
from core.checkin import floor
from core.errors import DomainError
from extensions import db
from tests.integration.conftest import csrf_token
from wsgi import create_app

ISOLATED = {"REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://", "SECRET_KEY": "x"}
DOWN = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"


def _audits(committed, action: str) -> int:
    committed.session.expire_all()
    return committed.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


def test_a_refused_action_that_flushed_first_leaves_nothing(signed_in, committed, monkeypatch):
    """Core writes and flushes, then refuses: the page redirects with the reason, and nothing
    of what was flushed is in the database."""
    browser, _user, _store = signed_in("cs_agent")

    def half_way(session, store_id, visit_id, actor_id, now):  # type: ignore[no-untyped-def]
        audit.record(session, "test.half_way", store_id=store_id, actor_id=actor_id)
        session.flush()
        raise DomainError("This visitor has already been received.")

    monkeypatch.setattr(floor, "mark_left", half_way)
    response = browser.post("/console/reception/visits/12345/left")
    assert response.status_code == 302
    assert response.location.endswith("/console/reception/visits/12345")
    assert _audits(committed, "test.half_way") == 0
    page = browser.get(response.location, follow_redirects=True).get_data(as_text=True)
    assert "This visitor has already been received." in page  # no zh msgid: shown as raised


def test_the_commit_point_commits_nothing_of_a_refused_request(app, committed):
    """Even what a view writes after its refusal is rolled back: the request is marked."""
    from web.refusals import refuse

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    other = create_app({**ISOLATED, "TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    store = committed.store()

    @other.route("/test/refused-then-written")
    def refused_then_written():  # type: ignore[no-untyped-def]
        refuse(DomainError("This cannot be done"))
        audit.record(db.session, "test.after_refusal", store_id=store.id, actor_id=None)
        db.session.flush()
        return redirect("/")

    @other.route("/test/written")
    def written():  # type: ignore[no-untyped-def]
        audit.record(db.session, "test.written", store_id=store.id, actor_id=None)
        return redirect("/")

    client = other.test_client()
    assert client.get("/test/refused-then-written").status_code == 302
    assert client.get("/test/written").status_code == 302
    assert _audits(committed, "test.after_refusal") == 0
    assert _audits(committed, "test.written") == 1
    with other.app_context():
        db.engine.dispose()


@pytest.fixture
def down():
    """The app on a database that cannot be reached."""
    broken = create_app({**ISOLATED, "SQLALCHEMY_DATABASE_URI": DOWN})
    yield broken
    with broken.app_context():
        db.engine.dispose()


def test_the_kiosk_in_a_database_outage_says_so_in_its_own_look(down):
    client = down.test_client()
    client.set_cookie("showroom_kiosk", "some-device-token")
    for path in ("/kiosk/", "/kiosk/mobile"):
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 503, path
        assert "kiosk-error" in page and "/console" not in page
        assert "签到暂时无法使用" in page  # the kiosk's language: Chinese by default
        assert 'href="/kiosk/"' in page


def test_the_console_in_a_database_outage_says_so(down):
    client = down.test_client()
    token = csrf_token(client)
    response = client.post(
        "/console/login", data={"csrf_token": token, "username": "wang", "password": "x"}
    )
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "无法连接数据库" in page and "您填写的内容仍在表单中" in page
    assert "data-history-back" in page  # back to the form, which the browser still holds


def test_an_address_under_the_kiosk_that_no_route_takes_gets_the_kiosk_look(app, committed):
    from tests.integration.test_kiosk import enrolled

    tablet = enrolled(app, committed, committed.store())
    response = tablet.client.post("/kiosk/")  # the welcome screen takes GET only
    assert response.status_code in (400, 405)
    assert "kiosk-error" in response.get_data(as_text=True)

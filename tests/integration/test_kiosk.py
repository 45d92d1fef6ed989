"""The entrance kiosk through HTTP: enrolment, the check-in flow, bad input, idempotency, the
device's limits. The browser tests (tests/e2e/test_kiosk.py) cover the same pages on screen."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import func, select

from core.checkin.models import Visit
from core.checkin.service import NOTICE_VERSION
from core.db import utcnow
from core.enums import Presence
from core.opportunities.models import ConsentRecord, Customer
from core.stores import kiosks
from core.stores.models import CarModel, KioskDevice
from tests.factories import PASSWORD
from tests.integration.conftest import Browser, csrf_token, new_client
from web.kiosk_device import KIOSK_COOKIE, KIOSK_COOKIE_MAX_AGE
from web.sealed import seal, unseal

SESSION_COOKIE = "showroom_session"


class Kiosk(Browser):
    """A tablet at the entrance: posts forms with the token of a kiosk page."""

    def post(self, path, data=None, token_from="/kiosk/enrol", **kw):
        return super().post(path, data, token_from=token_from, **kw)

    def page(self, path, **kw):
        return self.client.get(path, **kw).get_data(as_text=True)


def enrolled(app, committed, store):
    """A new tablet enrolled to the store (token made in core, cookie set as the page does)."""
    agent = committed.user(store, "cs_agent")
    token = kiosks.enrol(
        committed.session, store_id=store.id, name="入口平板", role="cs_agent", user_id=agent.id
    )
    committed.session.commit()
    client = new_client(app)
    client.set_cookie(KIOSK_COOKIE, token)
    return Kiosk(client)


@pytest.fixture
def store(committed):
    return committed.store(name="西溪店")


@pytest.fixture
def kiosk(app, committed, store):
    return enrolled(app, committed, store)


def models(committed, store):
    return list(
        committed.session.scalars(
            select(CarModel).where(CarModel.store_id == store.id).order_by(CarModel.sort_order)
        )
    )


def count(committed, model, *where):
    committed.session.expire_all()
    return committed.session.scalar(select(func.count()).select_from(model).where(*where))


def visits(committed, store):
    committed.session.expire_all()
    return list(committed.session.scalars(select(Visit).where(Visit.store_id == store.id)))


def new_visitor(kiosk, mobile="13912345678", surname="李", title="ms", interest=None):
    """Walk a new visitor up to the privacy notice."""
    assert kiosk.get("/kiosk/mobile").status_code == 200
    response = kiosk.post("/kiosk/mobile", {"mobile": mobile})
    assert response.status_code == 303 and response.location.endswith("/kiosk/name")
    response = kiosk.post("/kiosk/name", {"surname": surname, "title": title})
    assert response.status_code == 303 and response.location.endswith("/kiosk/interest")
    form = interest or {"car_model": "none", "purpose": "look", "party_size": "1"}
    response = kiosk.post("/kiosk/interest", form)
    assert response.status_code == 303 and response.location.endswith("/kiosk/consent")


# --- the device ----------------------------------------------------------------------------


def test_a_browser_that_is_not_enrolled_is_sent_to_enrolment(client):
    for path in ("/kiosk/", "/kiosk/mobile", "/kiosk/consent", "/kiosk/done"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.location.endswith("/kiosk/enrol")
    assert client.get("/kiosk/enrol").status_code == 200


def test_a_revoked_device_is_sent_back_to_enrolment(app, committed, store, kiosk):
    assert kiosk.get("/kiosk/").status_code == 200
    device = committed.session.scalars(
        select(KioskDevice).where(KioskDevice.store_id == store.id)
    ).one()
    device.revoked_at = utcnow()
    committed.session.commit()
    response = kiosk.get("/kiosk/")
    assert response.status_code == 302 and response.location.endswith("/kiosk/enrol")


@pytest.mark.parametrize("role", ["cs_agent", "manager", "admin"])
def test_staff_enrol_the_tablet_without_signing_in_to_the_console(app, committed, store, role):
    user = committed.user(store, role)
    tablet = Kiosk(new_client(app))
    tablet.login(user)  # someone had signed in on this browser before
    response = tablet.post(
        "/kiosk/enrol", {"username": user.username, "password": PASSWORD, "name": "入口平板 1"}
    )
    assert response.status_code == 303 and response.location.endswith("/kiosk/")
    cookie = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{KIOSK_COOKIE}=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert f"Max-Age={KIOSK_COOKIE_MAX_AGE}" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP in the test; see the HTTPS test below
    with tablet.client.session_transaction() as flask_session:
        assert "_user_id" not in flask_session  # not signed in to the console
    page = tablet.page("/kiosk/")
    assert "西溪店" in page
    assert tablet.get("/console/").status_code == 403
    assert tablet.get("/console/login").status_code == 403
    device = committed.session.scalars(
        select(KioskDevice).where(KioskDevice.store_id == store.id)
    ).one()
    assert device.name == "入口平板 1" and device.enrolled_by == user.id


def test_the_kiosk_cookie_is_secure_over_https(app, committed, store):
    user = committed.user(store, "cs_agent")
    client = new_client(app)
    token = csrf_token(client, "https://localhost/kiosk/enrol")
    response = client.post(
        "https://localhost/kiosk/enrol",
        data={
            "csrf_token": token,
            "username": user.username,
            "password": PASSWORD,
            "name": "平板",
        },
        headers={"Referer": "https://localhost/kiosk/enrol"},
    )
    assert response.status_code == 303
    cookie = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{KIOSK_COOKIE}=")
    )
    assert "Secure" in cookie


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("consultant", 403, "只有客服"),
        ("wrong password", 401, "用户名或密码错误"),
        ("no name", 422, "设备"),
    ],
)
def test_enrolment_refusals_are_explained_and_set_no_cookie(
    app, committed, store, case, status, message
):
    user = committed.user(store, "consultant" if case == "consultant" else "manager")
    tablet = Kiosk(new_client(app))
    response = tablet.post(
        "/kiosk/enrol",
        {
            "username": user.username,
            "password": "wrong-one" if case == "wrong password" else PASSWORD,
            "name": "" if case == "no name" else "平板",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in page
    assert f'value="{user.username}"' in page  # what was typed is kept
    assert not any(h.startswith(KIOSK_COOKIE) for h in response.headers.getlist("Set-Cookie"))
    assert count(committed, KioskDevice, KioskDevice.store_id == store.id) == 0


def test_a_kiosk_gets_403_on_every_console_page(kiosk):
    for path in ("/console/", "/console/login", "/console/customers", "/console/team"):
        assert kiosk.get(path).status_code == 403, path


def test_kiosk_pages_are_never_cached(kiosk):
    for path in ("/kiosk/", "/kiosk/mobile", "/kiosk/enrol"):
        response = kiosk.get(path)
        assert response.headers["Cache-Control"] == "no-store", path


def test_unknown_kiosk_pages_get_a_kiosk_404_without_console_links(kiosk):
    response = kiosk.get("/kiosk/no-such-page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "/console" not in page
    assert 'href="/kiosk/"' in page


# --- the check-in flow ---------------------------------------------------------------------


def test_a_new_visitor_checks_in_without_consent_and_meets_a_consultant(committed, store, kiosk):
    zhang = committed.consultant(store, name="张伟")
    model = models(committed, store)[1]
    page = kiosk.page("/kiosk/")
    assert "欢迎光临西溪店" in page and 'lang="zh-CN"' in page
    new_visitor(
        kiosk,
        interest={"car_model": str(model.id), "purpose": "test_drive", "party_size": "3"},
    )
    page = kiosk.page("/kiosk/consent")
    assert NOTICE_VERSION in page
    assert re.search(r'<input type="checkbox" id="consent"[^>]*>', page)
    assert "checked" not in re.search(r'<input type="checkbox" id="consent"[^>]*>', page)[0]
    response = kiosk.post("/kiosk/consent", {})  # the box left unticked
    assert response.status_code == 303 and response.location.endswith("/kiosk/done")
    page = kiosk.page("/kiosk/done")
    assert "张伟" in page and "马上来接待您" in page

    [visit] = visits(committed, store)
    assert visit.consultant_id == zhang.id
    assert (visit.purpose, visit.party_size, visit.car_model_id) == ("test_drive", 3, model.id)
    assert visit.source == "kiosk" and visit.kiosk_device_id is not None
    customer = committed.session.get(Customer, visit.customer_id)
    assert (customer.mobile, customer.surname, customer.title) == ("13912345678", "李", "ms")
    assert customer.consent_at is None
    assert count(committed, ConsentRecord, ConsentRecord.customer_id == customer.id) == 0

    # The done page is shown once: later, nobody can open it again to read it.
    response = kiosk.get("/kiosk/done")
    assert response.status_code == 302 and response.location.endswith("/kiosk/")
    assert kiosk.get("/kiosk/consent").location.endswith("/kiosk/")


def test_consent_is_recorded_with_the_notice_version(committed, store, kiosk):
    new_visitor(kiosk, mobile="+86 139-0000-1111")
    kiosk.post("/kiosk/consent", {"consent": "yes"})
    [visit] = visits(committed, store)
    customer = committed.session.get(Customer, visit.customer_id)
    assert customer.mobile == "13900001111"
    assert customer.consent_notice_version == NOTICE_VERSION
    record = committed.session.scalars(
        select(ConsentRecord).where(ConsentRecord.customer_id == customer.id)
    ).one()
    assert record.granted and record.channel == "kiosk" and record.notice_version == NOTICE_VERSION


def test_nobody_free_means_a_seat_and_a_place_in_the_queue(committed, store, kiosk):
    committed.consultant(store, presence=Presence.OFF_DUTY)
    new_visitor(kiosk)
    kiosk.post("/kiosk/consent", {})
    page = kiosk.page("/kiosk/done")
    assert "请您先就座休息" in page and "第 1 位" in page


def test_a_returning_visitor_confirms_their_masked_number_and_goes_to_their_consultant(
    app, committed, store, kiosk
):
    owner = committed.consultant(store, name="王芳")
    committed.consultant(store, name="赵强")  # free and first in the rotation: not chosen
    customer = committed.customer(store, surname="王", title="mr", mobile="13812345678")
    committed.opportunity(customer, owner=owner, grade="A")
    kiosk.get("/kiosk/mobile")
    response = kiosk.post("/kiosk/mobile", {"mobile": "138 1234 5678"})
    assert response.location.endswith("/kiosk/confirm")
    page = kiosk.page("/kiosk/confirm")
    assert "138****5678" in page and "这是您的号码吗" in page
    # the kiosk tells nothing the visitor did not type (issue 16, finding 4): no name, no title
    assert "13812345678" not in page and "王" not in page and "先生" not in page
    with kiosk.client.session_transaction() as flask_session, app.app_context():
        state = unseal(flask_session["checkin"])
    assert "王" not in json.dumps(state, ensure_ascii=False) and "mr" not in state.values()
    # The name step belongs to new visitors only.
    assert kiosk.get("/kiosk/name").location.endswith("/kiosk/confirm")
    assert kiosk.post("/kiosk/confirm", {"answer": "yes"}).location.endswith("/kiosk/interest")
    kiosk.post("/kiosk/interest", {"car_model": "none", "purpose": "delivery", "party_size": "2"})
    kiosk.post("/kiosk/consent", {})
    page = kiosk.page("/kiosk/done")
    assert "王芳" in page and "欢迎再次光临" in page
    [visit] = visits(committed, store)
    assert visit.customer_id == customer.id and visit.consultant_id == owner.id
    assert count(committed, Customer, Customer.store_id == store.id) == 1


def test_not_me_goes_back_to_the_keypad_with_the_digits_kept(committed, store, kiosk):
    committed.customer(store, surname="王", title="mr", mobile="13812345678")
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13812345678"})
    response = kiosk.post("/kiosk/confirm", {"answer": "no"})
    assert response.location.endswith("/kiosk/mobile")
    page = kiosk.page("/kiosk/mobile")
    assert 'value="13812345678"' in page and "请检查号码" in page
    assert kiosk.get("/kiosk/confirm").location.endswith("/kiosk/mobile")
    assert "王先生" not in page


def test_a_customer_of_another_store_is_a_new_visitor_here(committed, store, kiosk):
    other = committed.store()
    committed.customer(other, surname="周", title="ms", mobile="13655556666")
    kiosk.get("/kiosk/mobile")
    response = kiosk.post("/kiosk/mobile", {"mobile": "13655556666"})
    assert response.location.endswith("/kiosk/name")
    assert "周" not in kiosk.page("/kiosk/name")


def test_steps_cannot_be_skipped(kiosk):
    assert kiosk.get("/kiosk/consent").location.endswith("/kiosk/")
    kiosk.get("/kiosk/mobile")
    assert kiosk.get("/kiosk/interest").location.endswith("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13912340000"})
    assert kiosk.get("/kiosk/consent").location.endswith("/kiosk/name")
    assert kiosk.get("/kiosk/confirm").location.endswith("/kiosk/name")
    response = kiosk.post("/kiosk/consent", {})
    assert response.status_code == 302 and response.location.endswith("/kiosk/name")


def test_a_changed_number_forgets_the_previous_answers(committed, store, kiosk):
    committed.customer(store, surname="王", title="mr", mobile="13812345678")
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13912340000"})
    kiosk.post("/kiosk/name", {"surname": "李", "title": "ms"})
    kiosk.post("/kiosk/mobile", {"mobile": "13812345678"})
    assert kiosk.get("/kiosk/interest").location.endswith("/kiosk/confirm")


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("mobile", ["12345", "23812345678", "1381234567x", "", "12812345678"])
def test_a_number_that_is_not_a_chinese_mobile_is_explained_and_kept(
    committed, store, kiosk, mobile
):
    kiosk.get("/kiosk/mobile")
    response = kiosk.post("/kiosk/mobile", {"mobile": mobile})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="mobile-error"' in page and "11 位" in page
    assert f'value="{mobile}"' in page
    assert 'aria-invalid="true"' in page


@pytest.mark.parametrize(
    ("surname", "title", "field", "message"),
    [
        ("", "mr", "surname", "请输入"),
        ("   ", "ms", "surname", "请输入"),
        ("欧阳欧阳欧阳欧阳欧阳欧", "mr", "surname", "10"),
        ("<b>王</b>", "mr", "surname", "&lt;"),
        ("王2", "mr", "surname", "数字"),
        ("王", "", "title", "先生"),
        ("王", "dr", "title", "先生"),
    ],
)
def test_a_bad_name_is_explained_next_to_the_field_and_nothing_is_saved(
    committed, store, kiosk, surname, title, field, message
):
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13912345678"})
    response = kiosk.post("/kiosk/name", {"surname": surname, "title": title})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    assert error and message in error[1], page
    assert 'id="surname"' in page
    assert count(committed, Customer, Customer.store_id == store.id) == 0
    assert kiosk.get("/kiosk/interest").location.endswith("/kiosk/name")


def test_markup_in_a_name_is_shown_as_text(kiosk):
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13912345678"})
    typed = '<script>alert("x")</script>'
    page = kiosk.post("/kiosk/name", {"surname": typed, "title": "mr"}).get_data(as_text=True)
    assert typed not in page
    assert 'value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"' in page


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"car_model": "none", "purpose": "", "party_size": "1"}, "purpose"),
        ({"car_model": "none", "purpose": "shopping", "party_size": "1"}, "purpose"),
        ({"car_model": "none", "purpose": "look", "party_size": "0"}, "party_size"),
        ({"car_model": "none", "purpose": "look", "party_size": "21"}, "party_size"),
        ({"car_model": "none", "purpose": "look", "party_size": "many"}, "party_size"),
        ({"car_model": "999999", "purpose": "look", "party_size": "1"}, "car_model"),
    ],
)
def test_bad_interest_answers_are_explained_and_kept(committed, store, kiosk, form, field):
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13912345678"})
    kiosk.post("/kiosk/name", {"surname": "李", "title": "ms"})
    response = kiosk.post("/kiosk/interest", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page
    assert f'value="{form["party_size"]}"' in page
    assert count(committed, Customer, Customer.store_id == store.id) == 0


def test_a_car_model_of_another_store_is_refused(committed, store, kiosk):
    other_model = models(committed, committed.store())[0]
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13912345678"})
    kiosk.post("/kiosk/name", {"surname": "李", "title": "ms"})
    form = {"car_model": str(other_model.id), "purpose": "look", "party_size": "1"}
    response = kiosk.post("/kiosk/interest", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="car_model-error">请从列表中选择车型。<', page)


def test_a_model_withdrawn_before_the_last_tap_sends_the_visitor_back_and_saves_nothing(
    committed, store, kiosk
):
    model = models(committed, store)[0]
    new_visitor(kiosk, interest={"car_model": str(model.id), "purpose": "look", "party_size": "1"})
    model.active = False
    committed.session.commit()
    response = kiosk.post("/kiosk/consent", {"consent": "yes"})
    assert response.status_code == 422
    assert 'id="car_model-error"' in response.get_data(as_text=True)
    assert visits(committed, store) == []
    assert count(committed, Customer, Customer.store_id == store.id) == 0


# --- one visit per check-in ----------------------------------------------------------------


def test_a_resubmitted_check_in_gives_one_visit(committed, store, kiosk):
    committed.consultant(store, name="张伟")
    new_visitor(kiosk)
    token = csrf_token(kiosk.client, "/kiosk/enrol")
    before = kiosk.client.get_cookie(SESSION_COOKIE).value
    first = kiosk.client.post("/kiosk/consent", data={"csrf_token": token})
    # The second tap of a double tap carries the cookie the page had before the first one.
    kiosk.client.set_cookie(SESSION_COOKIE, before)
    second = kiosk.client.post("/kiosk/consent", data={"csrf_token": token})
    assert first.status_code == second.status_code == 303
    assert "张伟" in kiosk.page("/kiosk/done")
    assert len(visits(committed, store)) == 1
    # A third post, after the done screen, starts nothing either.
    third = kiosk.client.post("/kiosk/consent", data={"csrf_token": token})
    assert third.status_code == 302
    assert len(visits(committed, store)) == 1


def test_a_second_tap_after_the_first_finished_shows_the_done_screen(committed, store, kiosk):
    new_visitor(kiosk)
    kiosk.post("/kiosk/consent", {})
    response = kiosk.post("/kiosk/consent", {})
    assert response.status_code == 303 and response.location.endswith("/kiosk/done")
    assert len(visits(committed, store)) == 1


def test_each_check_in_has_its_own_key(committed, store, kiosk):
    for mobile in ("13900000001", "13900000002"):
        new_visitor(kiosk, mobile=mobile)
        kiosk.post("/kiosk/consent", {})
        kiosk.get("/kiosk/done")
    found = visits(committed, store)
    assert len(found) == 2 and found[0].idempotency_key != found[1].idempotency_key


# --- idle reset, staleness, language --------------------------------------------------------


def test_reset_forgets_the_check_in_and_the_language(kiosk):
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/lang", {"lang": "en", "next": "/kiosk/mobile"})
    kiosk.post("/kiosk/mobile", {"mobile": "13912345678"})
    assert "How should we address you?" in kiosk.page("/kiosk/name")
    response = kiosk.get("/kiosk/reset")
    assert response.location.endswith("/kiosk/")
    page = kiosk.page("/kiosk/")
    assert 'lang="zh-CN"' in page
    assert kiosk.get("/kiosk/name").location.endswith("/kiosk/")
    assert 'value=""' in kiosk.page("/kiosk/mobile")


def test_the_language_switch_stays_on_the_kiosk(kiosk):
    response = kiosk.post("/kiosk/lang", {"lang": "en", "next": "/console/"})
    assert response.location.endswith("/kiosk/")
    response = kiosk.post("/kiosk/lang", {"lang": "en", "next": "//evil.example/kiosk/"})
    assert response.location.endswith("/kiosk/")


def test_the_idle_timeout_is_rendered_into_the_page(app, kiosk):
    saved = app.config.get("KIOSK_IDLE_SECONDS")
    app.config["KIOSK_IDLE_SECONDS"] = 7
    try:
        assert '<meta name="kiosk-idle-seconds" content="7">' in kiosk.page("/kiosk/mobile")
        # On the welcome screen in the default language there is nothing to clear.
        assert '<meta name="kiosk-idle-seconds" content="0">' in kiosk.page("/kiosk/")
        kiosk.post("/kiosk/lang", {"lang": "en", "next": "/kiosk/"})
        assert '<meta name="kiosk-idle-seconds" content="7">' in kiosk.page("/kiosk/")
    finally:
        if saved is None:
            app.config.pop("KIOSK_IDLE_SECONDS")
        else:
            app.config["KIOSK_IDLE_SECONDS"] = saved


def test_a_stale_check_in_is_dropped(app, kiosk):
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13912345678"})
    with kiosk.client.session_transaction() as flask_session, app.app_context():
        state = unseal(flask_session["checkin"])
        state["started"] = (utcnow() - timedelta(hours=1)).timestamp()
        flask_session["checkin"] = seal(state)
    assert kiosk.get("/kiosk/name").location.endswith("/kiosk/")
    assert 'value=""' in kiosk.page("/kiosk/mobile")


def test_the_session_cookie_shows_nothing_of_the_visitor(app, kiosk):
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13912345678"})
    kiosk.post("/kiosk/name", {"surname": "欧阳", "title": "ms"})
    cookie = kiosk.client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    readable = SecureCookieSessionInterface().get_signing_serializer(app).loads(cookie)
    shown = json.dumps(readable, ensure_ascii=False)
    assert "13912345678" not in shown and "欧阳" not in shown
    # The kiosk itself still has it: the next step goes on with this visitor.
    assert kiosk.get("/kiosk/interest").status_code == 200
    with kiosk.client.session_transaction() as flask_session, app.app_context():
        state = unseal(flask_session["checkin"])
    assert state["mobile"] == "13912345678" and state["surname"] == "欧阳"


def test_a_check_in_state_that_was_tampered_with_starts_over(kiosk):
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13912345678"})
    with kiosk.client.session_transaction() as flask_session:
        sealed = flask_session["checkin"]
        flask_session["checkin"] = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    assert kiosk.get("/kiosk/name").location.endswith("/kiosk/")


# --- rate limit per device -----------------------------------------------------------------


def test_lookups_are_rate_limited_per_device(app, committed, store, kiosk):
    other = enrolled(app, committed, store)
    saved = app.config.get("KIOSK_LOOKUP_LIMIT")
    app.config["KIOSK_LOOKUP_LIMIT"] = "3 per minute"
    try:
        kiosk.get("/kiosk/mobile")
        statuses = [kiosk.post("/kiosk/mobile", {"mobile": "12345"}).status_code for _ in range(4)]
        assert statuses == [422, 422, 422, 429]
        page = kiosk.post("/kiosk/mobile", {"mobile": "12345"}).get_data(as_text=True)
        assert "尝试次数过多" in page and "/console" not in page
        # Another tablet (even behind the same address) has its own counter.
        other.client.environ_base["REMOTE_ADDR"] = kiosk.client.environ_base["REMOTE_ADDR"]
        other.get("/kiosk/mobile")
        assert other.post("/kiosk/mobile", {"mobile": "12345"}).status_code == 422
    finally:
        if saved is None:
            app.config.pop("KIOSK_LOOKUP_LIMIT")
        else:
            app.config["KIOSK_LOOKUP_LIMIT"] = saved

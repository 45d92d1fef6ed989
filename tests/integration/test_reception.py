"""The reception desk, the consultant's presence and arrivals, and the lobby board over HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.checkin import floor
from core.checkin import service as checkin
from core.checkin.models import Visit
from core.db import utcnow
from core.dispatch.models import Assignment
from core.enums import Presence
from core.opportunities.models import ConsentRecord, Customer
from core.stores.kiosks import enrol, revoke
from core.stores.models import CarModel, ConsultantSettings, KioskDevice
from tests.factories import unique
from tests.integration.conftest import Browser, new_client
from tests.querycount import count_statements
from web.kiosk_device import KIOSK_COOKIE

_SIG = re.compile(r'name="sig" value="([0-9a-f]+)"')


def mobile() -> str:
    return f"137{unique():08d}"


def arrive(committed, store, *, number=None, surname="王", title="mr", at=None, **kw):
    """A visitor checks in at the kiosk (committed, as a live server would see it)."""
    result = checkin.check_in(
        committed.session,
        checkin.CheckIn(
            store_id=store.id,
            mobile=number or mobile(),
            purpose=kw.pop("purpose", "look"),
            surname=surname,
            title=title,
            consent=True,
            **kw,
        ),
        at or utcnow(),
    )
    committed.session.commit()
    return result


def visit(app_engine, visit_id) -> Visit:
    with Session(app_engine) as s:
        v = s.get(Visit, visit_id)
        s.expunge_all()
        return v


def count(app_engine, model, *where) -> int:
    with Session(app_engine) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def page(response) -> str:
    return response.get_data(as_text=True)


def english(web: Browser) -> None:
    web.post("/lang", {"lang": "en", "next": "/console/"})


# --- who may open what -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"), [("cs_agent", 200), ("manager", 200), ("consultant", 403), ("admin", 403)]
)
def test_the_reception_pages_are_for_the_desk_and_managers(signed_in, role, status):
    web, _user, _store = signed_in(role)
    for path in ("/console/reception", "/console/reception/live", "/console/reception/check-in"):
        assert web.get(path).status_code == status, path


@pytest.mark.parametrize("role", ["cs_agent", "manager", "admin"])
def test_presence_and_arrivals_are_for_consultants_only(signed_in, role):
    web, _user, _store = signed_in(role)
    assert web.get("/console/arrivals").status_code == 403
    assert web.post("/console/presence", {"presence": "on_duty"}).status_code == 403


def test_signed_out_the_reception_sends_to_the_sign_in(client):
    response = client.get("/console/reception")
    assert response.status_code == 302
    assert "/console/login" in response.headers["Location"]


def test_a_visit_of_another_store_is_not_found(signed_in, committed):
    web, _user, _store = signed_in("cs_agent")
    other = committed.store()
    committed.consultant(other)
    theirs = arrive(committed, other)
    assert web.get(f"/console/reception/visits/{theirs.visit_id}").status_code == 404
    assert web.post(f"/console/reception/visits/{theirs.visit_id}/left").status_code == 404
    response = web.post(
        f"/console/reception/visits/{theirs.visit_id}/reassign",
        {"consultant": str(theirs.consultant_id)},
    )
    assert response.status_code == 404
    consultant_web, _consultant, _store2 = signed_in("consultant")
    assert consultant_web.post(f"/console/arrivals/{theirs.visit_id}/start").status_code == 404


# --- today's visitors --------------------------------------------------------------------------


def test_the_reception_page_groups_todays_visitors_and_masks_the_numbers(
    signed_in, committed, app_engine
):
    web, user, store = signed_in("cs_agent")
    committed.consultant(store, name="张伟")
    with_consultant = arrive(committed, store, number="13811112222", surname="王")
    waiting = arrive(committed, store, number="13933334444", surname="李", title="ms")
    gone = arrive(committed, store, number="13755556666", surname="赵")
    floor.mark_left(committed.session, store.id, gone.visit_id, user.id, utcnow())
    committed.session.commit()
    yesterday = arrive(committed, store, at=utcnow() - timedelta(days=1), surname="钱")
    floor.mark_left(committed.session, store.id, yesterday.visit_id, user.id, utcnow())
    committed.session.commit()
    assert with_consultant.consultant_name == "张伟" and waiting.queue_position == 1

    html = page(web.get("/console/reception"))
    groups = {
        key: html.split(f'id="group-{key}"')[1].split("</section>")[0]
        for key in ("waiting", "with_consultant", "finished", "left")
    }
    assert "李女士" in groups["waiting"] and "139****4444" in groups["waiting"]
    assert "王先生" in groups["with_consultant"] and "张伟" in groups["with_consultant"]
    assert "赵先生" in groups["left"]
    assert "钱先生" not in html  # yesterday's visitor who left is not today's business
    assert "今天还没有完成的接待。" in groups["finished"]
    for full in ("13811112222", "13933334444", "13755556666"):
        assert full not in html
    assert 'hx-get="/console/reception/live"' in html and 'hx-trigger="every 4s"' in html


def test_the_live_tables_answer_204_until_something_changes(signed_in, committed):
    web, _user, store = signed_in("cs_agent")
    first = web.get("/console/reception/live")
    assert first.status_code == 200
    sig = _SIG.search(page(first)).group(1)
    assert web.get(f"/console/reception/live?sig={sig}").status_code == 204
    arrive(committed, store, surname="孙")
    changed = web.get(f"/console/reception/live?sig={sig}")
    assert changed.status_code == 200 and "孙先生" in page(changed)


# --- manual check-in ---------------------------------------------------------------------------


def test_the_desk_checks_in_a_new_visitor_with_consent(signed_in, committed, app_engine):
    web, user, store = signed_in("cs_agent")
    committed.consultant(store, name="李娜")
    form = page(web.get("/console/reception/check-in"))
    key = re.search(r'name="key" value="([0-9a-f]+)"', form).group(1)
    with Session(app_engine) as s:
        model_id = s.scalar(select(CarModel.id).where(CarModel.store_id == store.id).limit(1))
    response = web.post(
        "/console/reception/check-in",
        {
            "mobile": "+86 138-0013-8000",
            "surname": "周",
            "title": "ms",
            "car_model": str(model_id),
            "purpose": "test_drive",
            "party_size": "3",
            "consent": "yes",
            "key": key,
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/console/reception"
    assert "周女士已登记，由李娜接待。" in page(web.get("/console/reception"))
    with Session(app_engine) as s:
        v = s.scalars(select(Visit).where(Visit.store_id == store.id)).one()
        assert (v.source, v.recorded_by, v.purpose, v.party_size) == (
            "reception",
            user.id,
            "test_drive",
            3,
        )
        assert v.car_model_id == model_id and v.idempotency_key == key
        customer = s.get(Customer, v.customer_id)
        assert customer.mobile == "13800138000" and customer.consent_at is not None
        consent = s.scalars(
            select(ConsentRecord).where(ConsentRecord.customer_id == customer.id)
        ).one()
        assert (consent.channel, consent.recorded_by) == ("reception", user.id)


def test_without_the_tick_no_consent_is_recorded(signed_in, app_engine):
    web, _user, store = signed_in("cs_agent")
    response = web.post(
        "/console/reception/check-in",
        {
            "mobile": "13800138001",
            "surname": "Smith",
            "title": "mr",
            "purpose": "look",
            "party_size": "1",
        },
    )
    assert response.status_code == 302
    assert "Smith先生已登记，排队第 1 位。" in page(web.get("/console/reception"))
    with Session(app_engine) as s:
        customer = s.scalars(select(Customer).where(Customer.store_id == store.id)).one()
        assert customer.consent_at is None
        assert count(app_engine, ConsentRecord, ConsentRecord.customer_id == customer.id) == 0


def test_bad_input_is_shown_next_to_each_field_and_nothing_is_lost_or_saved(signed_in, app_engine):
    web, _user, store = signed_in("cs_agent")
    typed = {
        "mobile": "12345",
        "surname": "王<b>",
        "title": "",
        "car_model": "999999",
        "purpose": "",
        "party_size": "30",
        "consent": "yes",
        "key": "k" * 32,
    }
    response = web.post("/console/reception/check-in", typed)
    assert response.status_code == 422
    html = page(response)
    for field, message in (
        ("mobile", "11 位中国大陆手机号"),
        ("purpose", "请选择到店目的。"),
        ("party_size", "请输入到店人数（1 到 20）。"),
        ("car_model", None),
    ):
        assert f'id="{field}-error"' in html, field
        assert f'aria-describedby="{field}-error"' in html, field
        if message:
            assert message in html
    assert 'value="12345"' in html and 'value="王&lt;b&gt;"' in html and 'value="30"' in html
    assert re.search(r'id="consent" name="consent" value="yes"[^>]*checked', html)
    assert 'name="key" value="' + "k" * 32 in html
    assert count(app_engine, Visit, Visit.store_id == store.id) == 0
    assert count(app_engine, Customer, Customer.store_id == store.id) == 0


def test_a_new_customer_needs_a_surname_and_a_title(signed_in):
    web, _user, _store = signed_in("cs_agent")
    english(web)
    response = web.post("/console/reception/check-in", {"mobile": "13800138002", "purpose": "look"})
    assert response.status_code == 422
    html = page(response)
    assert "Enter the visitor&#39;s surname." in html and 'id="surname-error"' in html
    assert "Choose Mr or Ms." in html and 'id="title-error"' in html


def test_a_returning_customer_needs_only_the_mobile(signed_in, committed, app_engine):
    web, _user, store = signed_in("cs_agent")
    customer = committed.customer(store, surname="吴", title="ms", mobile="13900001111")
    hint = page(web.post("/console/reception/lookup", {"mobile": "139 0000 1111"}))
    assert "吴女士" in hint and "139****1111" in hint and "13900001111" not in hint
    response = web.post(
        "/console/reception/check-in",
        {"mobile": "13900001111", "purpose": "delivery", "party_size": "1"},
    )
    assert response.status_code == 302
    assert "吴女士已登记" in page(web.get("/console/reception"))
    assert count(app_engine, Visit, Visit.customer_id == customer.id) == 1


def test_the_lookup_hint_says_new_or_nothing(signed_in, committed):
    web, _user, _store = signed_in("cs_agent")
    other = committed.store()
    committed.customer(other, surname="郑", mobile="13900002222")
    new = page(web.post("/console/reception/lookup", {"mobile": "13900002222"}))
    assert "新客户" in new and "郑" not in new  # another store's customer is not known here
    assert page(web.post("/console/reception/lookup", {"mobile": "1390"})).strip() == ""


def test_the_lookup_takes_the_number_in_the_body_never_in_the_url(signed_in):
    """A number in a URL ends up in access logs and the browser's history: the look-up is a
    POST (as the check-in form's htmx sends it); a GET with ?mobile= is refused."""
    web, _user, _store = signed_in("cs_agent")
    assert web.get("/console/reception/lookup?mobile=13900003333").status_code == 405
    form = page(web.get("/console/reception/check-in"))
    assert 'hx-post="/console/reception/lookup"' in form and "hx-get" not in form


def test_a_double_submission_checks_in_once(signed_in, app_engine):
    web, _user, store = signed_in("cs_agent")
    form = {"mobile": "13800138003", "surname": "冯", "title": "mr", "purpose": "look"}
    form.update(party_size="2", key="double-tap-key")
    assert web.post("/console/reception/check-in", form).status_code == 302
    assert web.post("/console/reception/check-in", form).status_code == 302
    assert count(app_engine, Visit, Visit.store_id == store.id) == 1


def test_a_car_model_of_another_store_is_refused(signed_in, committed, app_engine):
    web, _user, _store = signed_in("cs_agent")
    other = committed.store()
    with Session(app_engine) as s:
        theirs = s.scalar(select(CarModel.id).where(CarModel.store_id == other.id).limit(1))
    response = web.post(
        "/console/reception/check-in",
        {
            "mobile": "13800138004",
            "surname": "陈",
            "title": "mr",
            "purpose": "look",
            "car_model": str(theirs),
        },
    )
    assert response.status_code == 422 and 'id="car_model-error"' in page(response)


# --- one visit: explanation, reassign, left ----------------------------------------------------


def test_the_visit_page_explains_every_candidate(signed_in, committed):
    web, _user, store = signed_in("cs_agent")
    full = committed.consultant(store, cap=1, name="满员")
    committed.book(full, 1)
    committed.consultant(store, presence=Presence.ON_BREAK, name="休息")
    first = committed.consultant(store, name="甲")
    committed.consultant(store, name="乙")
    result = arrive(committed, store)
    assert result.consultant_id == first.id
    html = page(web.get(f"/console/reception/visits/{result.visit_id}"))
    assert "为什么分配给这位顾问" in html
    rows = {
        name: html.split(f"<td>{name}</td>")[1].split("</tr>")[0]
        for name in ("满员", "休息", "甲", "乙")
    }
    assert "已达负荷上限" in rows["满员"] and "1 / 1" in rows["满员"]
    assert "休息" in rows["休息"]
    assert "选中" in rows["甲"]
    assert "轮序靠后" in rows["乙"]


def test_the_note_of_an_absent_own_consultant_is_translated(signed_in, committed):
    web, _user, store = signed_in("cs_agent")
    own = committed.consultant(store, presence=Presence.OFF_DUTY, name="专属")
    committed.consultant(store, name="代接")
    customer = committed.customer(store, surname="卫", mobile="13900003333")
    committed.opportunity(customer, owner=own, grade="A")
    result = arrive(committed, store, number="13900003333")
    html = page(web.get(f"/console/reception/visits/{result.visit_id}"))
    assert "客户的专属顾问不在岗。" in html and "preferred consultant" not in html


def test_a_waiting_visitor_is_reassigned_with_a_note(signed_in, committed, app_engine):
    web, user, store = signed_in("cs_agent")
    busy = committed.consultant(store, presence=Presence.OFF_DUTY, name="下班")
    target = committed.consultant(store, presence=Presence.ON_BREAK, name="接手")
    result = arrive(committed, store, surname="褚")
    assert result.queue_position == 1
    form = page(web.get(f"/console/reception/visits/{result.visit_id}"))
    # why nobody could take the visitor, as seen at check-in
    why = form.split("到店时为何无人接待")[1].split("</article>")[0]
    assert "下班" in why and "离岗" in why and "接手" in why and "休息中" in why
    assert f'name="consultant" value="{target.id}"' in form
    response = web.post(
        f"/console/reception/visits/{result.visit_id}/reassign",
        {"consultant": str(target.id), "note": "客户点名要找她"},
    )
    assert response.status_code == 302
    assert "褚先生已改派给接手。" in page(web.get("/console/reception"))
    assert visit(app_engine, result.visit_id).consultant_id == target.id
    with Session(app_engine) as s:
        a = s.scalars(select(Assignment).where(Assignment.visit_id == result.visit_id)).one()
        assert (a.reason, a.note, a.assigned_by, a.to_owner_id) == (
            "manual",
            "客户点名要找她",
            user.id,
            target.id,
        )
        skipped = {c["user_id"]: c["skipped"] for c in a.candidates}
        assert skipped == {busy.id: "not_chosen", target.id: None}
    html = page(web.get(f"/console/reception/visits/{result.visit_id}"))
    assert "客户点名要找她" in html and "人工重新分配" in html
    assert "未选" in html and f"操作人：{user.display_name}" in html


def test_reassigning_needs_a_choice_and_an_active_consultant(signed_in, committed, app_engine):
    web, _user, store = signed_in("cs_agent")
    gone = committed.user(store, "consultant", active=False)
    committed.consultant(store, presence=Presence.OFF_DUTY)
    result = arrive(committed, store)
    url = f"/console/reception/visits/{result.visit_id}/reassign"
    response = web.post(url, {"note": "x" * 201})
    assert response.status_code == 422
    html = page(response)
    assert 'id="consultant-error"' in html and 'id="note-error"' in html
    assert "x" * 201 in html  # the note typed is kept
    response = web.post(url, {"consultant": str(gone.id)})
    assert response.status_code == 422 and 'id="consultant-error"' in page(response)
    other = committed.consultant(committed.store())
    assert web.post(url, {"consultant": str(other.id)}).status_code == 422
    assert count(app_engine, Assignment, Assignment.visit_id == result.visit_id) == 0


def test_a_visitor_who_left_is_marked_once(signed_in, committed, app_engine):
    web, _user, store = signed_in("manager")
    result = arrive(committed, store)
    url = f"/console/reception/visits/{result.visit_id}/left"
    response = web.post(url)
    assert response.status_code == 302 and response.headers["Location"] == "/console/reception"
    v = visit(app_engine, result.visit_id)
    assert v.status == "left" and v.left_at is not None
    again = web.post(url)
    assert again.status_code == 302
    assert again.headers["Location"] == f"/console/reception/visits/{result.visit_id}"
    html = page(web.get(again.headers["Location"]))
    assert "只有仍在等候的客户才能标记为离店。" in html
    assert "/reassign" not in html and "/left" not in html  # no action on a finished visit


# --- the consultant: presence, arrivals, receptions --------------------------------------------


def test_coming_on_duty_takes_the_waiting_visitor(signed_in, committed, app_engine):
    web, user, store = signed_in("consultant")
    html = page(web.get("/console/"))
    assert re.search(r'value="off_duty"[^>]*aria-pressed="true"', html)
    result = arrive(committed, store, surname="蒋")
    assert result.queue_position == 1
    response = web.post("/console/presence", {"presence": "on_duty"})
    assert response.status_code == 302
    assert visit(app_engine, result.visit_id).consultant_id == user.id
    html = page(web.get("/console/"))
    assert re.search(r'value="on_duty"[^>]*aria-pressed="true"', html)
    assert re.search(r'value="on_break"[^>]*aria-pressed="false"', html)
    assert "蒋先生" in html and "开始接待" in html


def test_an_unknown_presence_changes_nothing(signed_in, app_engine):
    web, user, _store = signed_in("consultant")
    web.post("/console/presence", {"presence": "asleep"})
    with Session(app_engine) as s:
        assert s.get(ConsultantSettings, user.id).presence == "off_duty"


def test_a_reception_is_started_and_ended_with_its_duration(signed_in, committed, app_engine):
    web, user, store = signed_in("consultant")
    web.post("/console/presence", {"presence": "on_duty"})
    first = arrive(committed, store, surname="沈")
    second = arrive(committed, store, surname="韩")
    assert first.consultant_id == user.id and second.queue_position == 1
    assert web.post(f"/console/arrivals/{first.visit_id}/start").status_code == 302
    v = visit(app_engine, first.visit_id)
    assert v.status == "in_reception" and v.reception_started_at is not None
    html = page(web.get("/console/"))
    assert "结束接待" in html and "接待中：0 分钟" in html
    assert web.post(f"/console/arrivals/{first.visit_id}/end").status_code == 302
    v = visit(app_engine, first.visit_id)
    assert v.status == "finished" and v.reception_ended_at >= v.reception_started_at
    assert visit(app_engine, second.visit_id).consultant_id == user.id  # the queue moved on
    assert "接待已结束。" in page(web.get("/console/"))


def test_a_consultant_cannot_start_another_consultants_visitor(signed_in, committed, app_engine):
    web, _user, store = signed_in("consultant")
    committed.consultant(store, name="别人")
    theirs = arrive(committed, store)
    response = web.post(f"/console/arrivals/{theirs.visit_id}/start")
    assert response.status_code == 302
    assert visit(app_engine, theirs.visit_id).status == "assigned"
    assert "该客户已分配给其他顾问。" in page(web.get("/console/"))


def test_the_arrivals_poll_answers_204_until_a_visitor_arrives(signed_in, committed):
    web, _user, store = signed_in("consultant")
    web.post("/console/presence", {"presence": "on_duty"})
    home = page(web.get("/console/"))
    assert 'hx-get="/console/arrivals"' in home and 'hx-trigger="every 3s"' in home
    first = web.get("/console/arrivals")
    sig = _SIG.search(page(first)).group(1)
    assert web.get(f"/console/arrivals?sig={sig}").status_code == 204
    arrive(committed, store, surname="杨")
    response = web.get(f"/console/arrivals?sig={sig}")
    assert response.status_code == 200
    html = page(response)
    assert "杨先生" in html and "您有 1 位新到店客户" in html and 'hx-swap-oob="innerHTML"' in html


# --- the lobby board ---------------------------------------------------------------------------


def kiosk_client(app, committed, store):
    """A browser with the cookie of a device enrolled at the store; and who enrolled it."""
    manager = committed.user(store, "manager")
    token = enrol(
        committed.session, store_id=store.id, name="大厅屏", role="manager", user_id=manager.id
    )
    committed.session.commit()
    client = new_client(app)
    client.set_cookie(KIOSK_COOKIE, token)
    return client, manager


def test_the_lobby_needs_a_kiosk_or_a_signed_in_member_of_staff(client):
    response = client.get("/lobby")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/login?next=/lobby"
    poll = client.get("/lobby/live", headers={"HX-Request": "true"})
    assert poll.headers["HX-Redirect"] == "/console/login?next=/lobby"


def test_an_enrolled_kiosk_shows_the_board_masked(app, committed):
    store = committed.store(name="西溪店")
    committed.consultant(store, name="张伟")
    committed.consultant(store, name="李娜", presence=Presence.OFF_DUTY)
    arrive(committed, store, number="13811112222", surname="王")
    arrive(committed, store, number="13933334444", surname="李", title="ms")
    arrive(committed, store, number="13755556666", surname="赵")
    other = committed.store()
    committed.consultant(other, presence=Presence.OFF_DUTY)
    arrive(committed, other, surname="外店")
    client, _manager = kiosk_client(app, committed, store)
    html = page(client.get("/lobby"))
    assert "欢迎光临西溪店" in html
    waiting = html.split('id="lobby-waiting-h"')[1].split("</section>")[0]
    assert "李女士" in waiting and "139****4444" in waiting and "赵先生" in waiting
    assert "王先生" not in waiting  # with 张伟, not waiting
    assert "外店" not in html
    assert "李娜" not in html  # off duty
    for full in ("13811112222", "13933334444", "13755556666"):
        assert full not in html
    assert "看车" not in html and "凯美瑞" not in html  # nothing else about customers


def test_a_revoked_kiosk_gets_no_board(app, committed):
    store = committed.store()
    client, manager = kiosk_client(app, committed, store)
    assert client.get("/lobby").status_code == 200
    device = committed.session.scalars(
        select(KioskDevice).where(KioskDevice.store_id == store.id)
    ).one()
    revoke(
        committed.session, store_id=store.id, device_id=device.id, user_id=manager.id, now=utcnow()
    )
    committed.session.commit()
    assert client.get("/lobby").status_code == 403
    assert client.get("/lobby/live").status_code == 403


def test_a_long_queue_is_counted_beyond_one_screen(signed_in, committed):
    web, _user, store = signed_in("cs_agent")
    for n in range(10):
        arrive(committed, store, surname="排" if n < 8 else "后")
    html = page(web.get("/lobby"))
    assert html.count("排先生") == 8 and "后先生" not in html
    assert "另有 2 位" in html


def test_staff_see_the_board_of_their_own_store(signed_in, committed):
    web, _user, store = signed_in("consultant")
    arrive(committed, store, surname="秦")
    html = page(web.get("/lobby"))
    assert "秦先生" in html and 'hx-get="/lobby/live"' in html


# --- a fixed number of statements --------------------------------------------------------------


def _statements(web, engine, path):
    with count_statements(engine) as statements:
        response = web.get(path)
    assert response.status_code == 200, path
    return len(statements)


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("cs_agent", "/console/reception"),
        ("cs_agent", "/console/reception/live"),
        ("manager", "/console/reception"),
        ("consultant", "/console/"),
        ("consultant", "/console/arrivals"),
        ("consultant", "/lobby"),
        ("consultant", "/lobby/live"),
    ],
)
def test_the_desk_pages_issue_a_fixed_number_of_statements(
    signed_in, committed, app_engine, role, path
):
    web, user, store = signed_in(role)
    if role == "consultant":
        web.post("/console/presence", {"presence": "on_duty"})
    others = [committed.consultant(store) for _ in range(2)]
    arrive(committed, store)
    arrive(committed, store)
    small = _statements(web, app_engine, path)
    for c in others:
        committed.book(c, 5)
    for _ in range(3):
        committed.consultant(store, presence=Presence.OFF_DUTY)
    for _ in range(12):
        arrive(committed, store)  # the consultants are busy: the rest wait
    if role == "consultant":
        # and the consultant's own arrivals grow too
        for _ in range(3):
            r = arrive(committed, store)
            floor.reassign_visit(
                committed.session, store.id, r.visit_id, user.id, user.id, utcnow()
            )
            committed.session.commit()
    assert _statements(web, app_engine, path) == small


def test_the_visit_page_issues_a_fixed_number_of_statements(signed_in, committed, app_engine):
    web, user, store = signed_in("cs_agent")
    consultants = [committed.consultant(store) for _ in range(2)]
    result = arrive(committed, store)
    path = f"/console/reception/visits/{result.visit_id}"
    small = _statements(web, app_engine, path)
    for _ in range(4):
        committed.consultant(store)
    for c in consultants * 2:
        floor.reassign_visit(committed.session, store.id, result.visit_id, c.id, user.id, utcnow())
        committed.session.commit()
    assert _statements(web, app_engine, path) == small

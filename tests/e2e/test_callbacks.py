"""The callback console in a real browser at tablet size (issue 5): the worklist, claiming a
task, the number on demand, the questionnaire appearing as it is answered, an error that keeps
everything typed, and every outcome end to end, including a re-invited customer who checks in
at the kiosk and goes to the agreed consultant. Both languages; axe on every screen."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.callbacks.models import CallbackTask
from core.checkin.models import Visit
from core.db import utcnow
from core.dispatch.models import Decline
from core.enums import Role
from core.opportunities.models import Customer, Invitation, Opportunity
from core.timeutil import local_date
from tests.e2e.conftest import (
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    assert_accessible,
    screenshot,
    sign_in,
)
from tests.e2e.test_kiosk import set_device_cookie, start, tap_number
from tests.factories import unique

T = {
    "zh": {
        "Callbacks today": "今日回访",
        "Show number": "显示号码",
        "Reached": "已接通",
        "No answer": "无人接听",
        "Yes": "是",
        "No": "否",
        "Save the call": "保存回访",
        "same_consultant_error": "请选择“是”或“否”。",
        "invited": "由 李娜 接待",
        "Claim and call": "领取并拨打",
        "bought": "已在别处购车，该商机已按战败关闭",
        "again": "重新进入回访列表",
        "dnc": "今后不再联系该客户",
        "retry": "明天将再次回访该客户",
        "pool": "客户已进入待分配池",
        "no_change": "回访结果已记录",
        "Hand out": "立即分配给销售顾问",
        "handed": "已为 1 位客户分配销售顾问。",
        "overturned": "战败已被推翻",
        "Would visit again": "愿意再次到店",
        "Invited back": "已邀约回店",
        "yes_me": "是的，是我的号码",
        "look": "看车",
    },
    "en": {
        "Callbacks today": "Callbacks today",
        "Show number": "Show number",
        "Reached": "Reached",
        "No answer": "No answer",
        "Yes": "Yes",
        "No": "No",
        "Save the call": "Save the call",
        "same_consultant_error": "Choose yes or no.",
        "invited": "with 李娜",
        "Claim and call": "Claim and call",
        "bought": "the customer bought elsewhere",
        "again": "will be on the list again",
        "dnc": "will not be contacted again",
        "retry": "called again tomorrow",
        "pool": "waits for a consultant in the pool",
        "no_change": "The answers are recorded",
        "Hand out": "Hand out to consultants now",
        "handed": "1 customer was handed to a consultant.",
        "overturned": "The defeat is overturned",
        "Would visit again": "Would visit again",
        "Invited back": "Invited back",
        "yes_me": "Yes, it's my number",
        "look": "Looking around",
    },
}


def both_sizes(page, name: str) -> None:
    page.set_viewport_size(TABLET_LANDSCAPE)
    assert_accessible(page)
    screenshot(page, f"{name}-landscape")
    page.set_viewport_size(TABLET_PORTRAIT)
    assert_accessible(page)
    screenshot(page, f"{name}-portrait")
    page.set_viewport_size(TABLET_LANDSCAPE)


def tile(page, name: str, value: str) -> None:
    """Tap a big choice (a radio button the size of a tile)."""
    page.locator(f"label[for='{name}-{value}']").click()


def fresh(committed, model, record_id):
    committed.session.expire_all()
    return committed.session.get(model, record_id)


@pytest.fixture
def desk(committed):
    """A store with two consultants, an agent and a worklist with every kind of callback."""
    store = committed.store(name="西溪店")
    anna = committed.consultant(store, name="李娜", cap=10)
    bob = committed.consultant(store, name="刘洋", cap=10)
    agent = committed.user(store, Role.CS_AGENT, name="客服小王")
    today = local_date(utcnow(), store.timezone)

    def task(kind, surname, *, grade, owner=None, consultant=anna, late=0, **kw):
        customer = committed.customer(store, surname=surname, mobile=f"139{unique():08d}")
        opp = committed.opportunity(
            customer,
            owner=owner,
            grade=grade,
            dormant_by=consultant.id if grade == "C" else None,
            defeat_reason="price" if grade == "F" else None,
        )
        return committed.callback_task(
            customer,
            kind=kind,
            due_on=today - timedelta(days=late),
            opportunity_id=opp.id,
            consultant_id=consultant.id,
            **kw,
        )

    tasks = {
        "dormant": task("dormant", "周", grade="C"),
        "defeat": task("defeat", "赵", grade="F", owner=anna),
        "stalled": task(
            "stalled",
            "欧阳",
            grade="A",
            owner=bob,
            consultant=bob,
            late=1,
            stall_rule="follow_up",
            overdue_days=3,
        ),
        "retry": task("retry", "钱", grade="C", attempt=2),
        "scheduled": task("scheduled", "孙", grade="C"),
    }
    return store, anna, bob, agent, today, tasks


def claim_from_the_list(page, t, surname: str) -> None:
    page.goto("/console/callbacks")
    expect(page.get_by_role("heading", level=1)).to_have_text(t["Callbacks today"])
    row = page.locator("tr.cb-row", has_text=surname)
    row.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/console/callbacks/\d+$"))
    expect(page.locator("#callback-form")).to_be_visible()


def answer_basics(page, *, bought: bool) -> None:
    tile(page, "call_result", "reached")
    expect(page.locator("#field-has_bought")).to_be_visible()
    tile(page, "remembers_consultant", "yes")
    tile(page, "satisfaction", "4")
    tile(page, "received_follow_up", "no")
    tile(page, "has_bought", "yes" if bought else "no")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_invite_back_to_the_same_consultant_who_receives_the_customer_at_the_kiosk(
    page, browser, base_url, committed, desk, lang
):
    t = T[lang]
    store, anna, _bob, agent, today, tasks = desk
    task = tasks["dormant"]
    customer = fresh(committed, Customer, task.customer_id)
    sign_in(page, agent, lang=lang)
    page.goto("/console/callbacks")
    rows = page.locator("tr.cb-row")
    expect(rows).to_have_count(5)
    expect(rows.first).to_contain_text("欧阳")  # overdue first
    expect(rows.nth(1)).to_contain_text("赵")  # then the defeat
    both_sizes(page, f"callbacks-worklist-{lang}")

    claim_from_the_list(page, t, "周")
    assert customer.mobile not in page.content()
    both_sizes(page, f"callbacks-task-{lang}")
    page.get_by_role("button", name=t["Show number"]).click()
    expect(page.locator(".revealed")).to_contain_text(customer.mobile)

    # the questions appear as they apply
    expect(page.locator("#field-has_bought")).to_be_hidden()
    answer_basics(page, bought=False)
    expect(page.locator("#field-would_revisit")).to_be_visible()
    expect(page.locator("#field-bought_reason")).to_be_hidden()
    tile(page, "would_revisit", "yes")
    page.locator("#concerns").fill("担心保值率")
    page.locator("#other_brands").fill("大众、本田")
    tile(page, "outcome", "invite_back")
    day = today + timedelta(days=1)
    page.locator("#invite_date").fill(day.isoformat())
    page.locator("#invite_time").fill("10:00")
    page.locator("#note").fill("客户周末有空")
    both_sizes(page, f"callbacks-form-{lang}")
    page.get_by_role("button", name=t["Save the call"]).click()

    # one question forgotten: the message next to it, everything else as typed
    expect(page.locator("#same_consultant_ok-error")).to_have_text(t["same_consultant_error"])
    expect(page.locator("#concerns")).to_have_value("担心保值率")
    expect(page.locator("#other_brands")).to_have_value("大众、本田")
    expect(page.locator("#invite_date")).to_have_value(day.isoformat())
    expect(page.locator("#note")).to_have_value("客户周末有空")
    expect(page.locator("#satisfaction-4")).to_be_checked()
    expect(page.locator("#field-would_revisit")).to_be_visible()
    expect(page.locator("#field-bought_brand")).to_be_hidden()
    both_sizes(page, f"callbacks-form-error-{lang}")
    tile(page, "same_consultant_ok", "yes")
    page.get_by_role("button", name=t["Save the call"]).click()
    expect(page.locator(".flash-success")).to_contain_text(t["invited"])
    expect(page.locator("tr.cb-row")).to_have_count(4)

    opp = fresh(committed, Opportunity, task.opportunity_id)
    assert (opp.owner_id, opp.grade) == (anna.id, None)
    invitation = committed.session.scalars(
        select(Invitation).where(Invitation.opportunity_id == opp.id)
    ).one()
    assert (invitation.consultant_id, invitation.source) == (anna.id, "callback")

    # the day has come: the appointment is in a few minutes, the customer taps in at the kiosk
    invitation.scheduled_at = utcnow() + timedelta(minutes=10)
    committed.session.commit()
    kiosk = browser.new_context(base_url=base_url, viewport=TABLET_LANDSCAPE, locale="zh-CN")
    tablet = kiosk.new_page()
    set_device_cookie(tablet, committed, store, base_url)
    tablet.goto("/kiosk/")
    start(tablet, lang)
    tap_number(tablet, customer.mobile)
    tablet.locator(".kiosk-next").click()
    tablet.get_by_role("button", name=t["yes_me"]).click()
    tablet.locator("label.tile", has_text=t["look"]).click()
    tablet.locator(".kiosk-next").click()
    tablet.locator(".kiosk-next").click()  # consent was given before
    expect(tablet.locator(".kiosk-done-lead")).to_contain_text("李娜")
    kiosk.close()
    committed.session.expire_all()
    visit = committed.session.scalars(select(Visit).where(Visit.customer_id == customer.id)).one()
    assert visit.consultant_id == anna.id and visit.invitation_id == invitation.id

    # the consultant sees the callback's answers on the customer page
    page.get_by_role("button", name=re.compile("退出|Sign out")).click()
    sign_in(page, anna)  # the language chosen before signing out stays
    page.goto(f"/console/customers/{customer.id}")
    callback_entry = page.locator(".tl-callback").first
    expect(callback_entry).to_contain_text(t["Would visit again"])
    expect(callback_entry).to_contain_text("担心保值率")
    expect(callback_entry).to_contain_text(t["Invited back"])
    screenshot(page, f"callbacks-customer-answers-{lang}")


OUTCOMES = [
    ("bought_elsewhere", "zh"),
    ("call_again", "en"),
    ("do_not_contact", "zh"),
    ("not_reached", "en"),
    ("other_consultant", "zh"),
    ("no_change", "en"),
    ("bought_elsewhere", "en"),
    ("call_again", "zh"),
    ("do_not_contact", "en"),
    ("not_reached", "zh"),
    ("other_consultant", "en"),
    ("no_change", "zh"),
]


@pytest.mark.parametrize(("outcome", "lang"), OUTCOMES)
def test_every_outcome_end_to_end(page, committed, desk, outcome, lang):
    t = T[lang]
    _store, anna, bob, agent, today, tasks = desk
    save = page.get_by_role("button", name=t["Save the call"])
    sign_in(page, agent, lang=lang)

    if outcome == "bought_elsewhere":
        task = tasks["dormant"]
        claim_from_the_list(page, t, "周")
        answer_basics(page, bought=True)
        expect(page.locator("#field-would_revisit")).to_be_hidden()
        page.locator("#bought_reason").fill("对方优惠更多")
        tile(page, "bought_brand", "other")
        page.locator("#bought_brand_other").fill("零跑")
        tile(page, "outcome", "bought_elsewhere")
        both_sizes(page, f"callbacks-bought-{lang}")
        save.click()
        expect(page.locator(".flash-success")).to_contain_text(t["bought"])
        opp = fresh(committed, Opportunity, task.opportunity_id)
        assert (opp.status, opp.competitor_brand, opp.close_note) == (
            "lost",
            "零跑",
            "对方优惠更多",
        )

    elif outcome == "call_again":
        task = tasks["defeat"]  # a lost customer who would come back later: defeat overturned
        claim_from_the_list(page, t, "赵")
        answer_basics(page, bought=False)
        tile(page, "would_revisit", "yes")
        tile(page, "same_consultant_ok", "yes")
        tile(page, "outcome", "call_again")
        later = today + timedelta(days=7)
        page.locator("#call_again_on").fill(later.isoformat())
        both_sizes(page, f"callbacks-call-again-{lang}")
        save.click()
        expect(page.locator(".flash-success")).to_contain_text(t["overturned"])
        expect(page.locator(".flash-success")).to_contain_text(t["again"])
        opp = fresh(committed, Opportunity, task.opportunity_id)
        assert (opp.status, opp.grade, opp.next_callback_on) == ("open", "C", later)
        assert opp.defeat_overturned_at is not None

    elif outcome == "do_not_contact":
        task = tasks["scheduled"]
        claim_from_the_list(page, t, "孙")
        tile(page, "call_result", "reached")
        tile(page, "outcome", "do_not_contact")
        expect(page.locator("[data-when='outcome=do_not_contact']")).to_be_visible()
        both_sizes(page, f"callbacks-dnc-{lang}")
        save.click()
        expect(page.locator(".flash-success")).to_contain_text(t["dnc"])
        assert fresh(committed, Customer, task.customer_id).do_not_contact

    elif outcome == "not_reached":
        task = tasks["retry"]
        claim_from_the_list(page, t, "钱")
        tile(page, "call_result", "no_answer")
        expect(page.locator("#field-has_bought")).to_be_hidden()
        expect(page.locator(".cb-not-reached").first).to_be_visible()
        both_sizes(page, f"callbacks-not-reached-{lang}")
        save.click()
        expect(page.locator(".flash-success")).to_contain_text(t["retry"])
        done = fresh(committed, CallbackTask, task.id)
        assert (done.call_result, done.outcome, done.attempt) == ("no_answer", "unreachable", 2)

    elif outcome == "other_consultant":
        task = tasks["stalled"]  # bob's customer would rather see someone else
        claim_from_the_list(page, t, "欧阳")
        answer_basics(page, bought=False)
        tile(page, "would_revisit", "yes")
        tile(page, "same_consultant_ok", "no")
        tile(page, "outcome", "invite_back")
        page.locator("#invite_date").fill((today + timedelta(days=2)).isoformat())
        page.locator("#invite_time").fill("15:00")
        save.click()
        expect(page.locator(".flash-success")).to_contain_text(t["pool"])
        opp = fresh(committed, Opportunity, task.opportunity_id)
        assert (opp.owner_id, opp.pool_reason) == (None, "reinvited")
        declined = committed.session.scalars(
            select(Decline.consultant_id).where(Decline.customer_id == opp.customer_id)
        ).all()
        assert declined == [bob.id]
        both_sizes(page, f"callbacks-pool-{lang}")
        page.get_by_role("button", name=t["Hand out"]).click()
        expect(page.locator(".flash-success")).to_contain_text(t["handed"])
        expect(page.locator(".flash-success")).to_contain_text("李娜")
        assert fresh(committed, Opportunity, task.opportunity_id).owner_id == anna.id
        screenshot(page, f"callbacks-handed-out-{lang}")

    else:  # no change: the stalled customer is happy with their consultant
        task = tasks["stalled"]
        claim_from_the_list(page, t, "欧阳")
        answer_basics(page, bought=False)
        tile(page, "would_revisit", "yes")
        tile(page, "same_consultant_ok", "yes")
        tile(page, "outcome", "no_change")
        page.locator("#note").fill("顾问最近在休假，客户表示理解")
        save.click()
        expect(page.locator(".flash-success")).to_contain_text(t["no_change"])
        done = fresh(committed, CallbackTask, task.id)
        assert (done.status, done.outcome, done.answers.would_revisit) == ("done", None, True)
        opp = fresh(committed, Opportunity, task.opportunity_id)
        assert opp.owner_id == bob.id

    assert fresh(committed, CallbackTask, task.id).status == "done"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_callback_another_agent_is_working(page, committed, desk, lang):
    t = T[lang]
    store, _anna, _bob, agent, _today, tasks = desk
    other = committed.user(store, Role.CS_AGENT, name="客服小李")
    task = tasks["defeat"]
    task = fresh(committed, CallbackTask, task.id)
    task.claimed_by, task.claimed_at = other.id, utcnow()
    committed.session.commit()
    sign_in(page, agent, lang=lang)
    page.goto("/console/callbacks")
    row = page.locator("tr.cb-row", has_text="赵")
    expect(row).to_contain_text("客服小李")
    expect(row.locator("button")).to_have_count(0)
    page.goto(f"/console/callbacks/{task.id}")
    expect(page.locator("#callback-form")).to_have_count(0)
    expect(page.get_by_role("button", name=t["Claim and call"])).to_have_count(0)
    both_sizes(page, f"callbacks-busy-{lang}")

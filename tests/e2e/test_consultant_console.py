"""The consultant's console in a real browser, at tablet size: from an arrival to an order, to
intent H with a follow-up and an invitation the customer honours, and to a defeat; my day and
the customer page with its audited "show number"."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.checkin import service as checkin
from core.checkin.models import Visit
from core.db import utcnow
from core.opportunities.models import Invitation, NeedsAssessment, Opportunity
from core.timeutil import local_date, local_moment
from tests.e2e.conftest import (
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    assert_accessible,
    screenshot,
    sign_in,
)
from tests.factories import unique

T = {
    "zh": {
        "Start reception": "开始接待",
        "End reception": "结束接待",
        "Reception outcome": "接待结果",
        "Record the order": "登记订单",
        "deposit": "请输入定金金额（元，整数）。",
        "Order recorded": "订单已登记，恭喜成交！",
        "Start the needs analysis": "开始需求分析",
        "Compute the grade": "计算级别",
        "Choose one answer.": "请选择一项。",
        "H": "H · 7天内购买",
        "Score breakdown": "得分明细",
        "Log a follow-up or invitation": "登记跟进或邀约",
        "Save the follow-up": "保存跟进",
        "Follow-up recorded.": "跟进已登记。",
        "Invite to the store": "邀约到店",
        "Invitation recorded": "邀约已登记，客户将在您选择的日期到店。",
        "Honoured": "已到店",
        "Mark as lost": "登记战败",
        "reason": "请选择战败原因。",
        "brand": "客户购买了哪个品牌？",
        "Defeat recorded": "战败已登记，客服将于明天回访客户。",
        "My day": "我的今日",
        "overdue": "逾期 3 天",
        "Show number": "显示号码",
    },
    "en": {
        "Start reception": "Start reception",
        "End reception": "End reception",
        "Reception outcome": "Reception outcome",
        "Record the order": "Record the order",
        "deposit": "Enter the deposit in yuan, a whole number.",
        "Order recorded": "Order recorded. Congratulations!",
        "Start the needs analysis": "Start the needs analysis",
        "Compute the grade": "Compute the grade",
        "Choose one answer.": "Choose one answer.",
        "H": "H · buys within 7 days",
        "Score breakdown": "Score breakdown",
        "Log a follow-up or invitation": "Log a follow-up or invitation",
        "Save the follow-up": "Save the follow-up",
        "Follow-up recorded.": "Follow-up recorded.",
        "Invite to the store": "Invite to the store",
        "Invitation recorded": (
            "Invitation recorded. The customer is expected on the day you chose."
        ),
        "Honoured": "Honoured",
        "Mark as lost": "Mark as lost",
        "reason": "Choose why the customer was lost.",
        "brand": "Which brand did the customer buy?",
        "Defeat recorded": "Defeat recorded. Customer service will call the customer tomorrow.",
        "My day": "My day",
        "overdue": "3 days overdue",
        "Show number": "Show number",
    },
}


def arrive(committed, store, number: str, *, at=None, surname="王"):
    result = checkin.check_in(
        committed.session,
        checkin.CheckIn(
            store_id=store.id,
            mobile=number,
            purpose="look",
            surname=surname,
            title="mr",
            consent=True,
        ),
        at or utcnow(),
    )
    committed.session.commit()
    return result


def both_sizes(page, name: str) -> None:
    """Scan and keep a picture at landscape and portrait tablet size."""
    page.set_viewport_size(TABLET_LANDSCAPE)
    assert_accessible(page)
    screenshot(page, f"{name}-landscape")
    page.set_viewport_size(TABLET_PORTRAIT)
    assert_accessible(page)
    screenshot(page, f"{name}-portrait")
    page.set_viewport_size(TABLET_LANDSCAPE)


def receive(page, t) -> None:
    """Start and end the reception of the visitor on the start page: on to its outcome."""
    page.get_by_role("button", name=t["Start reception"]).click()
    page.get_by_role("button", name=t["End reception"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t["Reception outcome"])


def opportunity_of(app_engine, visit_id) -> Opportunity:
    with Session(app_engine) as s:
        o = s.get(Visit, visit_id).opportunity
        s.expunge_all()
        return o


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_from_an_arrival_to_an_order(page, committed, app_engine, lang):
    t = T[lang]
    store = committed.store()
    consultant = committed.consultant(store, name="张伟")
    visit = arrive(committed, store, f"136{unique():08d}")
    sign_in(page, consultant, lang=lang)
    receive(page, t)
    both_sizes(page, f"consultant-outcome-{lang}")

    page.locator("#deposit").fill("五千")
    page.locator("#note").fill("白色，下周提车")
    page.get_by_role("button", name=t["Record the order"]).click()
    expect(page.locator("#deposit-error")).to_have_text(t["deposit"])
    expect(page.locator("#note")).to_have_value("白色，下周提车")
    assert_accessible(page)
    screenshot(page, f"consultant-outcome-error-{lang}")

    page.locator("#car_model").select_option(label="凯美瑞")
    page.locator("#deposit").fill("5000")
    page.get_by_role("button", name=t["Record the order"]).click()
    expect(page.get_by_text(t["Order recorded"])).to_be_visible()
    o = opportunity_of(app_engine, visit.visit_id)
    assert (o.status, o.grade, o.order_deposit, o.close_note) == (
        "won",
        "O",
        5000,
        "白色，下周提车",
    )
    both_sizes(page, f"consultant-customer-ordered-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_from_an_arrival_to_intent_H_a_follow_up_and_an_honoured_invitation(
    page, committed, app_engine, lang
):
    t = T[lang]
    store = committed.store()
    consultant = committed.consultant(store, name="李娜")
    committed.consultant(store, name="刘洋")  # the rotation would otherwise pick someone else
    mobile = f"135{unique():08d}"
    visit = arrive(committed, store, mobile, surname="孙")
    assert visit.consultant_id == consultant.id
    sign_in(page, consultant, lang=lang)
    receive(page, t)
    page.get_by_role("link", name=t["Start the needs analysis"]).click()
    both_sizes(page, f"consultant-assess-{lang}")

    # everything but the first question: the missing one is marked, the others kept
    tiles = page.locator("fieldset.indicator")
    for i in range(1, tiles.count()):
        tiles.nth(i).locator("label.tile").first.click()
    page.get_by_role("button", name=t["Compute the grade"]).click()
    expect(page.locator("#timeframe-error")).to_have_text(t["Choose one answer."])
    expect(tiles.nth(1).locator("input").first).to_be_checked()
    screenshot(page, f"consultant-assess-error-{lang}")
    tiles.nth(0).locator("label.tile").first.click()
    page.get_by_role("button", name=t["Compute the grade"]).click()
    expect(page.locator(".result-label")).to_have_text(t["H"])
    expect(page.get_by_role("heading", name=t["Score breakdown"])).to_be_visible()
    both_sizes(page, f"consultant-assess-result-{lang}")
    page.reload()  # the result is its own page: a reload shows it again, it does not re-grade
    expect(page.locator(".result-label")).to_have_text(t["H"])
    with Session(app_engine) as s:
        opportunity_id = s.get(Visit, visit.visit_id).opportunity_id
        graded = s.scalars(
            select(NeedsAssessment).where(NeedsAssessment.opportunity_id == opportunity_id)
        ).all()
        assert len(graded) == 1

    page.get_by_role("link", name=t["Log a follow-up or invitation"]).click()
    page.locator("label[for=kind-call]").click()
    page.locator("#outcome").fill("客户想周末带家人来试驾")
    both_sizes(page, f"consultant-follow-up-{lang}")
    page.get_by_role("button", name=t["Save the follow-up"]).click()
    expect(page.get_by_text(t["Follow-up recorded."])).to_be_visible()

    day = local_date(utcnow(), store.timezone) + timedelta(days=2)
    page.get_by_role("link", name=t["Invite to the store"]).click()
    expect(page.locator("#kind-invitation")).to_be_checked()
    page.locator("#invitation_date").fill(day.isoformat())
    page.locator("#invitation_time").fill("10:00")
    page.get_by_role("button", name=t["Save the follow-up"]).click()
    expect(page.get_by_text(t["Invitation recorded"])).to_be_visible()
    o = opportunity_of(app_engine, visit.visit_id)
    assert o.grade == "H" and o.owner_id == consultant.id

    # the customer honours it: on the day, the visit goes to the invitation's consultant
    back = arrive(
        committed, store, mobile, at=local_moment(day, time(9, 50), store.timezone), surname="孙"
    )
    assert back.consultant_id == consultant.id
    with Session(app_engine) as s:
        invitation = s.query(Invitation).filter_by(opportunity_id=o.id).one()
        assert invitation.status == "honoured" and invitation.visit_id == back.visit_id
    page.reload()
    expect(page.locator(".tl-invitation").first).to_contain_text(t["Honoured"])
    both_sizes(page, f"consultant-customer-invited-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_from_an_arrival_to_a_defeat(page, committed, app_engine, lang):
    t = T[lang]
    store = committed.store()
    consultant = committed.consultant(store, name="王磊")
    visit = arrive(committed, store, f"134{unique():08d}", surname="赵")
    sign_in(page, consultant, lang=lang)
    receive(page, t)
    page.locator(".breadcrumb a").click()
    page.get_by_role("link", name=t["Mark as lost"]).click()
    page.locator("#note").fill("预算不够")
    page.get_by_role("button", name=t["Mark as lost"]).click()
    expect(page.locator("#reason-error")).to_have_text(t["reason"])
    expect(page.locator("#note")).to_have_value("预算不够")
    page.locator("label[for=reason-other_brand]").click()
    page.get_by_role("button", name=t["Mark as lost"]).click()
    expect(page.locator("#competitor_brand-error")).to_have_text(t["brand"])
    both_sizes(page, f"consultant-defeat-error-{lang}")
    page.locator("#competitor_brand").fill("比亚迪")
    page.get_by_role("button", name=t["Mark as lost"]).click()
    expect(page.get_by_text(t["Defeat recorded"])).to_be_visible()
    o = opportunity_of(app_engine, visit.visit_id)
    assert (o.status, o.defeat_reason, o.competitor_brand, o.close_note) == (
        "lost",
        "other_brand",
        "比亚迪",
        "预算不够",
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_my_day_leads_to_the_customer_and_the_number_on_demand(page, committed, lang):
    t = T[lang]
    store = committed.store()
    consultant = committed.consultant(store, name="陈静", cap=10)
    today = local_date(utcnow(), store.timezone)
    late = committed.customer(store, surname="欧阳", mobile=f"133{unique():08d}")
    committed.opportunity(
        late, owner=consultant, grade="H", next_follow_up_due=today - timedelta(3)
    )
    due = committed.customer(store, surname="司马", title="ms")
    committed.opportunity(due, owner=consultant, grade="A", next_follow_up_due=today)
    committed.opportunity(committed.customer(store, surname="钱"), owner=consultant, grade="B")
    sign_in(page, consultant, lang=lang)
    expect(page.get_by_role("heading", name=t["My day"])).to_be_visible()
    expect(page.locator(".day-row.overdue")).to_contain_text(t["overdue"])
    both_sizes(page, f"consultant-my-day-{lang}")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"consultant-my-day-phone-{lang}")
    page.set_viewport_size(TABLET_LANDSCAPE)

    page.locator(".day-row.overdue a").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("欧阳")
    assert late.mobile not in page.content()
    page.get_by_role("button", name=t["Show number"]).click()
    expect(page.locator(".revealed")).to_contain_text(late.mobile)
    both_sizes(page, f"consultant-customer-{lang}")

"""The customer page in a real browser at tablet size (issue 14): every decline the customer
said and every assignment with its candidates, a manager lifting a decline (a missing reason
first, kept next to the field), customer service lifting a do-not-contact at the customer's
word. Both languages; axe on every screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.checkin import service as checkin
from core.db import utcnow
from core.dispatch.models import Decline
from core.enums import Role
from core.opportunities.models import Customer
from tests.e2e.conftest import TABLET_PORTRAIT, assert_accessible, screenshot, sign_in

T = {
    "zh": {
        "Declined": "客户拒绝的销售顾问",
        "In force": "生效中",
        "Lift this decline": "解除这条拒绝",
        "Lift": "解除",
        "reason needed": "请写明解除拒绝的原因。",
        "lifted": "拒绝已解除：这位销售顾问可以再接待该客户。",
        "Lifted": "已解除",
        "Why": "为什么是这位顾问：全部候选人",
        "declined skip": "客户要求更换顾问",
        "contact again": "客户要求恢复联系",
        "Lift dnc": "解除勿扰",
        "dnc lifted": "已恢复联系：可以再联系这位客户。",
    },
    "en": {
        "Declined": "Consultants the customer declined",
        "In force": "In force",
        "Lift this decline": "Lift this decline",
        "Lift": "Lift",
        "reason needed": "Write why the decline is lifted.",
        "lifted": "The decline is lifted: this consultant may have the customer again.",
        "Lifted": "Lifted",
        "Why": "Why this consultant: every candidate",
        "declined skip": "The customer asked for someone else",
        "contact again": "The customer asks to be contacted again",
        "Lift dnc": "Lift do-not-contact",
        "dnc lifted": "The customer may be contacted again.",
    },
}


def shop(committed, *, do_not_contact: bool = False):
    """A customer who declined Anna and checked in: the rotation passed Anna over."""
    store = committed.store(name="滨江店")
    manager = committed.user(store, Role.MANAGER, name="王经理")
    agent = committed.user(store, Role.CS_AGENT, name="陈客服")
    anna = committed.consultant(store, name="李娜")
    committed.consultant(store, name="张伟")
    customer = committed.customer(store, mobile="13966660001", do_not_contact=do_not_contact)
    committed.decline(customer, anna)
    request = checkin.CheckIn(store_id=store.id, mobile=customer.mobile, purpose="look")
    checkin.check_in(committed.session, request, utcnow())
    committed.session.commit()
    return store, manager, agent, customer


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_manager_sees_the_declines_and_the_candidates_and_lifts_a_decline(page, committed, lang):
    t = T[lang]
    _store, manager, _agent, customer = shop(committed)
    sign_in(page, manager, lang=lang)
    page.goto(f"/console/customers/{customer.id}")
    declines = page.get_by_role("region", name=t["Declined"])
    expect(declines).to_contain_text("李娜")
    expect(declines).to_contain_text(t["In force"])
    page.get_by_text(t["Why"]).first.click()
    expect(page.locator("details.candidates").first).to_contain_text(t["declined skip"])
    assert_accessible(page)
    screenshot(page, f"customer-declines-{lang}")
    page.get_by_text(t["Lift this decline"]).click()
    page.get_by_role("button", name=t["Lift"], exact=True).click()
    expect(page.locator(".field-error")).to_have_text(t["reason needed"])
    assert_accessible(page)
    declines.locator("input[name=reason]").fill("客户点名要李娜")
    page.get_by_role("button", name=t["Lift"], exact=True).click()
    expect(page.locator(".flash-success")).to_contain_text(t["lifted"])
    expect(declines).to_contain_text(t["Lifted"])
    expect(declines).to_contain_text("客户点名要李娜")
    page.set_viewport_size(TABLET_PORTRAIT)
    screenshot(page, f"customer-decline-lifted-portrait-{lang}")
    committed.session.expire_all()
    [decline] = committed.session.scalars(
        select(Decline).where(Decline.customer_id == customer.id)
    ).all()
    assert decline.lifted_by == manager.id and decline.lift_reason == "客户点名要李娜"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_customer_service_lifts_do_not_contact_at_the_customers_word(page, committed, lang):
    t = T[lang]
    _store, _manager, agent, customer = shop(committed, do_not_contact=True)
    sign_in(page, agent, lang=lang)
    page.goto(f"/console/customers/{customer.id}")
    page.get_by_text(t["contact again"]).click()
    page.locator("#contact-again-reason").fill("客户来电，要求继续推送试驾活动")
    assert_accessible(page)
    screenshot(page, f"customer-contact-again-{lang}")
    page.get_by_role("button", name=t["Lift dnc"]).click()
    expect(page.locator(".flash-success")).to_contain_text(t["dnc lifted"])
    committed.session.expire_all()
    assert committed.session.get(Customer, customer.id).do_not_contact is False

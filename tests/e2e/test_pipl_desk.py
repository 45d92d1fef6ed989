"""The desk serves a customer's PIPL requests on the customer page (issue 16), in a real
browser at tablet size, in Chinese and English: a correction refused with the message next to
the field, then made; consent withdrawn."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, screenshot, sign_in

T = {
    "zh": {
        "panel": "个人信息请求",
        "correct": "客户更正姓名或号码",
        "request": "客户的请求（按客户原话填写）",
        "do": "更正",
        "taken": "该号码属于另一位客户",
        "done": "已更正客户信息",
        "withdraw": "客户撤回同意",
        "withdraw_do": "撤回同意：今后不再联系",
        "withdrawn": "已撤回同意",
    },
    "en": {
        "panel": "Personal information requests",
        "correct": "The customer corrects their name or number",
        "request": "The customer's request, in their words",
        "do": "Correct",
        "taken": "This number is another customer's",
        "done": "The customer's details are corrected",
        "withdraw": "The customer withdraws their consent",
        "withdraw_do": "Withdraw consent: never contact again",
        "withdrawn": "Consent withdrawn",
    },
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_desk_corrects_a_customer_and_withdraws_consent(page, committed, lang):
    t = T[lang]
    store = committed.store()
    anna = committed.consultant(store)
    customer = committed.customer(store, surname="李", title="ms", mobile="13912345671")
    committed.opportunity(customer, owner=anna, grade="A")
    other = committed.customer(store, mobile="13700000002")
    agent = committed.user(store, "cs_agent")
    committed.session.commit()
    sign_in(page, agent, lang=lang)
    page.goto(f"/console/customers/{customer.id}")
    panel = page.get_by_role("region", name=t["panel"])
    panel.get_by_text(t["correct"]).click()
    page.locator("#correct-surname").fill("黎")
    page.locator("#correct-mobile").fill(other.mobile)
    page.locator("#correct-request").fill("客户说姓写错了")
    page.get_by_role("button", name=t["do"], exact=True).click()
    expect(page.locator("#correct-mobile-error")).to_contain_text(t["taken"])
    expect(page.locator("#correct-surname")).to_have_value("黎")
    expect(page.locator("#correct-request")).to_have_value("客户说姓写错了")
    assert_accessible(page)
    screenshot(page, f"pipl-correct-refused-{lang}")
    page.locator("#correct-mobile").fill("")
    page.get_by_role("button", name=t["do"], exact=True).click()
    expect(page.locator(".flash-success")).to_contain_text(t["done"])
    expect(page.locator("h1")).to_contain_text("黎")
    page.get_by_role("region", name=t["panel"]).get_by_text(t["withdraw"]).click()
    page.locator("#withdraw-request").fill("不要再联系我")
    page.get_by_role("button", name=t["withdraw_do"]).click()
    expect(page.locator(".flash-success")).to_contain_text(t["withdrawn"])
    expect(page).to_have_url(re.compile(rf"/console/customers/{customer.id}$"))
    screenshot(page, f"pipl-withdrawn-{lang}")

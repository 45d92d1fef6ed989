"""The own-account page (issue 16): where the person is signed in, and signing out on every
device, in a real browser in Chinese and English."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, screenshot, sign_in

T = {
    "zh": {
        "account": "我的账号",
        "this": "本浏览器",
        "everywhere": "在所有设备上退出",
        "out": "已在所有设备上退出",
    },
    "en": {
        "account": "My account",
        "this": "This browser",
        "everywhere": "Sign out everywhere",
        "out": "You have signed out on every device",
    },
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_consultant_signs_out_everywhere_from_their_account(
    page, browser, committed, base_url, lang
):
    t = T[lang]
    store = committed.store()
    user = committed.user(store, "consultant")
    other = browser.new_context(base_url=base_url)  # the same person on a second tablet
    tablet = other.new_page()
    sign_in(tablet, user, lang=lang)
    sign_in(page, user, lang=lang)
    page.get_by_role("link", name=user.display_name).click()
    expect(page.locator("h1")).to_have_text(t["account"])
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody")).to_contain_text(t["this"])
    assert_accessible(page)
    screenshot(page, f"account-{lang}")
    page.get_by_role("button", name=t["everywhere"]).click()
    expect(page).to_have_url(re.compile(r"/console/login"))
    expect(page.locator("body")).to_contain_text(t["out"])
    tablet.goto("/console/")
    expect(tablet).to_have_url(re.compile(r"/console/login"))
    other.close()

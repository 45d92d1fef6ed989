"""Every role signs in on a tablet, in Chinese and in English, and sees its own menu."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TABLET_PORTRAIT, assert_accessible, screenshot, sign_in

ROLES = {
    # role: (zh label, en label, menu entries it must see, entries it must not see)
    "consultant": ("销售顾问", "Sales consultant", ["customers"], ["team", "system"]),
    "cs_agent": ("客服", "Customer service", ["customers"], ["team", "system"]),
    "manager": ("销售经理", "Sales manager", ["customers", "team", "staff"], ["system"]),
    "admin": ("管理员", "Administrator", ["staff", "system"], ["customers", "team"]),
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_signs_in_at_tablet_size(page, committed, role, lang):
    store = committed.store(name="西溪店")
    user = committed.user(store, role, name="测试员工")
    zh_label, en_label, visible, hidden = ROLES[role]
    sign_in(page, user, lang=lang)
    expect(page).to_have_url(page.url.split("/console")[0] + "/console/")
    header = page.locator("header.topbar")
    expect(header).to_contain_text("测试员工")
    expect(header).to_contain_text("西溪店")
    expect(header.locator(".role-badge")).to_have_text(zh_label if lang == "zh" else en_label)
    for name in visible:
        expect(page.locator(f'nav.mainnav a[href="/console/{name}"]')).to_be_visible()
    for name in hidden:
        expect(page.locator(f'nav.mainnav a[href="/console/{name}"]')).to_have_count(0)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if lang == "zh" else "en")
    assert_accessible(page)
    screenshot(page, f"home-{role}-{lang}")
    page.get_by_role("button", name="退出" if lang == "zh" else "Sign out").click()
    expect(page.locator("#username")).to_be_visible()


def test_wrong_password_shows_a_message_and_keeps_the_username(page, committed):
    user = committed.user(committed.store())
    page.set_viewport_size(TABLET_PORTRAIT)
    sign_in(page, user, password="not-the-password")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    expect(page.locator("#username")).to_have_value(user.username)
    assert_accessible(page)
    screenshot(page, "login-error-zh")


def test_a_consultant_opening_a_manager_page_gets_a_clear_refusal(page, committed):
    user = committed.user(committed.store(), "consultant")
    sign_in(page, user)
    page.goto("/console/team")
    expect(page.locator("h1")).to_have_text("不允许")
    expect(page.get_by_role("link", name="返回首页")).to_be_visible()

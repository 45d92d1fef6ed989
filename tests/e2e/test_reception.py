"""The reception desk, the consultant's arrivals and the lobby board in a real browser, at tablet
size, in Chinese and English."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from core.checkin import service as checkin
from core.db import utcnow
from core.enums import Presence
from core.stores.kiosks import enrol
from tests.e2e.conftest import (
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    assert_accessible,
    screenshot,
    sign_in,
)
from tests.factories import unique
from web.kiosk_device import KIOSK_COOKIE

T = {
    "zh": {
        "Reception": "前台接待",
        "Check in a visitor": "登记到店客户",
        "Check in the visitor": "登记",
        "fix": "请修改下方标出的内容。",
        "mobile": "11 位中国大陆手机号",
        "surname": "只能使用文字，不能包含数字或符号。",
        "title": "请选择先生或女士。",
        "purpose": "请选择到店目的。",
        "party": "请输入到店人数（1 到 20）。",
        "new": "新客户：请填写姓氏和称呼。",
        "Mr": "先生",
        "Test drive": "试驾",
        "checked in": "王先生已登记，由张伟接待。",
        "On duty": "在岗",
        "nobody": "目前没有分配给您的客户。",
        "Start reception": "开始接待",
        "End reception": "结束接待",
        "in reception": "接待中：0 分钟",
        "ended": "接待已结束。",
        "Reassign / left": "改派 / 离店",
        "Why": "为什么分配给这位顾问",
        "Chosen": "选中",
        "On break": "休息中",
        "Later": "轮序靠后",
        "Reassign": "改派",
        "sent": "王先生已改派给李娜。",
        "Manual": "人工重新分配",
        "Mark left": "标记为未接待离店",
        "marked left": "已标记该客户未接待离店。",
        "Waiting": "等候中",
        "Free consultants": "空闲顾问",
        "Welcome": "欢迎光临西溪店",
        "In reception": "接待中",
        "Note": "备注（选填）",
    },
    "en": {
        "Reception": "Reception",
        "Check in a visitor": "Check in a visitor",
        "Check in the visitor": "Check in the visitor",
        "fix": "Please correct the fields marked below.",
        "mobile": "Enter an 11-digit Chinese mobile number starting 13-19.",
        "surname": "Use letters only: no digits or symbols.",
        "title": "Choose Mr or Ms.",
        "purpose": "Choose the purpose of the visit.",
        "party": "Enter how many people came (1 to 20).",
        "new": "New customer: enter the surname and title.",
        "Mr": "Mr",
        "Test drive": "Test drive",
        "checked in": "Mr 王 is checked in. 张伟 will receive them.",
        "On duty": "On duty",
        "nobody": "No visitor for you right now.",
        "Start reception": "Start reception",
        "End reception": "End reception",
        "in reception": "In reception: 0 min",
        "ended": "Reception ended.",
        "Reassign / left": "Reassign / left",
        "Why": "Why this consultant",
        "Chosen": "Chosen",
        "On break": "On break",
        "Later": "Later in the rotation",
        "Reassign": "Reassign",
        "sent": "Mr 王 was sent to 李娜.",
        "Manual": "Reassigned by hand",
        "Mark left": "Mark as left without reception",
        "marked left": "The visitor was marked as left without reception.",
        "Waiting": "Waiting",
        "Free consultants": "Free consultants",
        "Welcome": "Welcome to 西溪店",
        "In reception": "With a consultant",
        "Note": "Note (optional)",
    },
}
FULL_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def arrive(committed, store, *, number=None, surname="王", title="mr"):
    result = checkin.check_in(
        committed.session,
        checkin.CheckIn(
            store_id=store.id,
            mobile=number or f"137{unique():08d}",
            purpose="look",
            surname=surname,
            title=title,
            consent=True,
        ),
        utcnow(),
    )
    committed.session.commit()
    return result


def second_page(browser, live_server, viewport=TABLET_LANDSCAPE):
    """Another tablet: a browser context of its own (its own cookies)."""
    context = browser.new_context(base_url=live_server, viewport=viewport, locale="zh-CN")
    return context, context.new_page()


def both_sizes(page, name: str) -> None:
    """Keep a picture at landscape and portrait tablet size, and scan both."""
    page.set_viewport_size(TABLET_LANDSCAPE)
    screenshot(page, f"{name}-landscape")
    page.set_viewport_size(TABLET_PORTRAIT)
    assert_accessible(page)
    screenshot(page, f"{name}-portrait")
    page.set_viewport_size(TABLET_LANDSCAPE)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_receptionist_checks_in_a_visitor_by_hand(page, committed, lang):
    t = T[lang]
    store = committed.store(name="西溪店")
    agent = committed.user(store, "cs_agent", name="林晓雯")
    committed.consultant(store, name="张伟")
    sign_in(page, agent, lang=lang)
    page.get_by_role("link", name=t["Reception"], exact=True).click()
    expect(page.locator("h1")).to_have_text(t["Reception"])
    page.get_by_role("link", name=t["Check in a visitor"]).click()
    expect(page.locator("h1")).to_have_text(t["Check in a visitor"])
    assert_accessible(page)

    # Bad input: a message next to each field, everything typed kept.
    page.locator("#mobile").fill("1380013")
    page.locator("#surname").fill("王1")
    page.locator("#party_size").fill("0")
    page.locator("#car_model").select_option(label="凯美瑞")
    page.locator("#consent").check()
    page.get_by_role("button", name=t["Check in the visitor"], exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text(t["fix"])
    expect(page.locator("#mobile-error")).to_contain_text(t["mobile"])
    expect(page.locator("#surname-error")).to_have_text(t["surname"])
    expect(page.locator("#title-error")).to_have_text(t["title"])
    expect(page.locator("#purpose-error")).to_have_text(t["purpose"])
    expect(page.locator("#party_size-error")).to_have_text(t["party"])
    expect(page.locator("#mobile")).to_have_value("1380013")
    expect(page.locator("#surname")).to_have_value("王1")
    expect(page.locator("#party_size")).to_have_value("0")
    expect(page.locator("#car_model")).to_have_value(re.compile(r"\d+"))
    expect(page.locator("#consent")).to_be_checked()
    expect(page.locator("#mobile")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    both_sizes(page, f"reception-checkin-errors-{lang}")

    # Corrected: the number is new, the visitor goes to the free consultant.
    page.locator("#mobile").fill("138 0013 8000")
    expect(page.locator("#mobile-lookup")).to_have_text(t["new"])
    page.locator("#surname").fill("王")
    page.get_by_label(t["Mr"], exact=True).check()
    page.get_by_label(t["Test drive"], exact=True).check()
    page.locator("#party_size").fill("2")
    page.get_by_role("button", name=t["Check in the visitor"], exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text(t["checked in"])
    group = page.locator("#group-with_consultant")
    expect(group).to_contain_text("138****8000")
    expect(group).to_contain_text("张伟")
    assert not FULL_MOBILE.search(page.locator("main").inner_text())
    assert_accessible(page)
    both_sizes(page, f"reception-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_consultant_sees_a_new_arrival_within_five_seconds(
    page, browser, live_server, committed, lang
):
    t = T[lang]
    store = committed.store(name="西溪店")
    consultant = committed.consultant(store, presence=Presence.OFF_DUTY, name="张伟")
    agent = committed.user(store, "cs_agent", name="林晓雯")
    sign_in(page, consultant, lang=lang)
    on_duty = page.get_by_role("button", name=t["On duty"], exact=True)
    expect(on_duty).to_have_attribute("aria-pressed", "false")
    on_duty.click()
    expect(page.get_by_role("button", name=t["On duty"], exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    arrivals = page.locator("#arrivals")
    expect(arrivals).to_contain_text(t["nobody"])
    page.evaluate("window.notReloaded = true")

    # The receptionist, on another tablet, checks a visitor in by hand.
    context, desk = second_page(browser, live_server)
    try:
        sign_in(desk, agent, lang=lang)
        desk.goto("/console/reception/check-in")
        desk.locator("#mobile").fill("13800138000")
        desk.locator("#surname").fill("王")
        desk.get_by_label(t["Mr"], exact=True).check()
        desk.get_by_label(t["Test drive"], exact=True).check()
        desk.get_by_role("button", name=t["Check in the visitor"], exact=True).click()
        expect(desk.get_by_role("status").first).to_contain_text(t["checked in"])

        # Within 5 s, without reloading, the consultant's console shows the arrival.
        expect(arrivals).to_contain_text("王先生" if lang == "zh" else "Mr 王", timeout=5000)
        expect(arrivals).to_contain_text("138****8000")
        assert page.evaluate("window.notReloaded") is True
        expect(page.locator("#arrivals-status")).to_contain_text("1", timeout=5000)
        assert_accessible(page)
        both_sizes(page, f"arrivals-new-{lang}")

        page.get_by_role("button", name=t["Start reception"]).click()
        expect(arrivals).to_contain_text(t["in reception"])
        # The desk's page follows by itself.
        desk.goto("/console/reception")
        desk.evaluate("window.notReloaded = true")
        expect(desk.locator("#group-with_consultant")).to_contain_text(t["In reception"])
        screenshot(page, f"arrivals-in-reception-{lang}")
        page.get_by_role("button", name=t["End reception"]).click()
        expect(page.get_by_role("status").first).to_contain_text(t["ended"])
        expect(arrivals).to_contain_text(t["nobody"])
        expect(desk.locator("#group-finished")).to_contain_text("张伟", timeout=5000)
        assert desk.evaluate("window.notReloaded") is True
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_receptionist_reads_why_and_reassigns_or_marks_left(page, committed, lang):
    t = T[lang]
    store = committed.store(name="西溪店")
    agent = committed.user(store, "cs_agent", name="林晓雯")
    committed.consultant(store, name="张伟")
    committed.consultant(store, name="李娜", presence=Presence.ON_BREAK)
    committed.consultant(store, name="刘洋")
    first = arrive(committed, store, number="13811112222")
    arrive(committed, store, surname="赵", number="13822223333")  # to 刘洋
    third = arrive(committed, store, surname="钱", number="13833334444")  # waits
    assert first.consultant_name == "张伟" and third.queue_position == 1
    sign_in(page, agent, lang=lang)
    page.goto("/console/reception")
    expect(page.locator("#group-waiting")).to_contain_text("138****4444")
    assert_accessible(page)
    both_sizes(page, f"reception-busy-{lang}")

    row = page.locator("#group-with_consultant tr", has_text="138****2222")
    row.get_by_role("link", name=t["Reassign / left"]).click()
    why = page.locator("section", has=page.get_by_role("heading", name=t["Why"]))
    expect(why.locator("tr", has_text="张伟")).to_contain_text(t["Chosen"])
    expect(why.locator("tr", has_text="李娜")).to_contain_text(t["On break"])
    expect(why.locator("tr", has_text="刘洋")).to_contain_text(t["Later"])
    assert_accessible(page)

    # Nothing chosen: a message next to the field, the note kept.
    page.get_by_label(t["Note"]).fill("客户点名要李娜")
    page.get_by_role("button", name=t["Reassign"], exact=True).click()
    expect(page.locator("#consultant-error")).to_be_visible()
    expect(page.get_by_label(t["Note"])).to_have_value("客户点名要李娜")
    both_sizes(page, f"visit-reassign-error-{lang}")
    page.locator("label.pick", has_text="李娜").click()
    page.get_by_role("button", name=t["Reassign"], exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text(t["sent"])

    page.locator("#group-with_consultant tr", has_text="138****2222").get_by_role("link").click()
    expect(page.locator("article.explanation")).to_have_count(2)
    latest = page.locator("article.explanation").nth(1)
    expect(latest).to_contain_text(t["Manual"])
    expect(latest).to_contain_text("客户点名要李娜")
    expect(latest).to_contain_text("林晓雯")
    both_sizes(page, f"visit-explain-{lang}")

    page.goto("/console/reception")
    page.locator("#group-waiting tr", has_text="138****4444").get_by_role("link").click()
    page.get_by_role("button", name=t["Mark left"]).click()
    expect(page.get_by_role("status").first).to_contain_text(t["marked left"])
    expect(page.locator("#group-left")).to_contain_text("138****4444")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_lobby_board_refreshes_itself_and_shows_no_full_number(page, committed, lang):
    t = T[lang]
    store = committed.store(name="西溪店")
    committed.consultant(store, name="张伟")
    committed.consultant(store, name="李娜")
    committed.consultant(store, name="刘洋", presence=Presence.OFF_DUTY)
    arrive(committed, store, number="13811112222")
    staff = committed.user(store, "cs_agent")
    sign_in(page, staff, lang=lang)
    page.goto("/lobby")
    expect(page.locator("h1")).to_have_text(t["Welcome"])
    free = page.locator("section", has=page.get_by_role("heading", name=t["Free consultants"]))
    expect(free).to_contain_text("李娜")
    expect(free).not_to_contain_text("张伟")  # receiving 王先生
    expect(free).not_to_contain_text("刘洋")  # off duty

    arrive(committed, store, surname="李", title="ms", number="13933334444")  # to 李娜
    arrive(committed, store, surname="赵", number="13755556666")  # waits
    waiting = page.locator("section", has=page.get_by_role("heading", name=t["Waiting"]))
    expect(waiting).to_contain_text("137****6666", timeout=5000)
    expect(waiting).to_contain_text("赵先生" if lang == "zh" else "Mr 赵")
    expect(free).not_to_contain_text("李娜")
    assert not FULL_MOBILE.search(page.content())
    size = page.locator(".lobby-name").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert size >= 28, size  # readable from across the room
    assert_accessible(page)
    both_sizes(page, f"lobby-{lang}")
    page.set_viewport_size({"width": 1920, "height": 1080})
    screenshot(page, f"lobby-tv-{lang}")


def test_an_enrolled_kiosk_opens_the_lobby_board_but_no_console(browser, live_server, committed):
    store = committed.store(name="西溪店")
    manager = committed.user(store, "manager")
    committed.consultant(store, name="张伟", presence=Presence.OFF_DUTY)
    arrive(committed, store, number="13811112222")
    token = enrol(
        committed.session, store_id=store.id, name="大厅屏", role="manager", user_id=manager.id
    )
    committed.session.commit()
    context, screen = second_page(browser, live_server, {"width": 1280, "height": 800})
    try:
        context.add_cookies([{"name": KIOSK_COOKIE, "value": token, "url": live_server}])
        screen.goto("/lobby")
        expect(screen.locator("h1")).to_have_text("欢迎光临西溪店")
        expect(screen.locator(".lobby-queue")).to_contain_text("138****2222")
        assert not FULL_MOBILE.search(screen.content())
        assert_accessible(screen)
        screenshot(screen, "lobby-kiosk-zh")
        response = screen.goto("/console/reception")
        assert response is not None and response.status == 403
    finally:
        context.close()


def test_signed_out_the_lobby_asks_staff_to_sign_in(page):
    page.goto("/lobby")
    expect(page).to_have_url(re.compile(r"/console/login\?next=/lobby$"))

"""The entrance kiosk on a real tablet-sized browser: every screen, in Chinese and English, in
landscape and portrait, checked with axe-core and kept as a screenshot."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from core.checkin.models import Visit
from core.enums import Presence
from core.opportunities.models import ConsentRecord, Customer
from core.stores import kiosks
from core.stores.models import CarModel
from tests.e2e.conftest import TABLET_LANDSCAPE, TABLET_PORTRAIT, assert_accessible, screenshot
from tests.factories import PASSWORD
from web.kiosk_device import KIOSK_COOKIE

SIZES = {"landscape": TABLET_LANDSCAPE, "portrait": TABLET_PORTRAIT}
# (language, size): every screen is looked at in both languages and both orientations.
LOOKS = [("zh", "landscape"), ("en", "portrait"), ("en", "landscape"), ("zh", "portrait")]

T = {
    "zh": {
        "ms": "女士",
        "mr": "先生",
        "test_drive": "试驾",
        "delivery": "提车",
        "look": "看车",
        "yes": "是的，是我的号码",
        "coming": "马上来接待您",
        "seat": "请您先就座休息",
        "enrol": "登记此设备",
    },
    "en": {
        "ms": "Ms",
        "mr": "Mr",
        "test_drive": "Test drive",
        "delivery": "Take delivery",
        "look": "Looking around",
        "yes": "Yes, it's my number",
        "coming": "is coming to meet you",
        "seat": "Please take a seat",
        "enrol": "Enrol this device",
    },
}


def set_device_cookie(page, committed, store, base_url) -> None:
    """Enrol a tablet in core and give the browser its cookie (the UI path has its own test)."""
    agent = committed.user(store, "cs_agent")
    token = kiosks.enrol(
        committed.session, store_id=store.id, name="入口平板", role="cs_agent", user_id=agent.id
    )
    committed.session.commit()
    page.context.add_cookies([{"name": KIOSK_COOKIE, "value": token, "url": base_url}])


def enrol_through_the_page(page, committed, store, lang="zh") -> None:
    agent = committed.user(store, "cs_agent")
    page.goto("/kiosk/")
    expect(page).to_have_url(re.compile(r"/kiosk/enrol$"))
    if lang == "en" and page.locator("html").get_attribute("lang") != "en":
        page.get_by_role("button", name="English").click()
    page.locator("#username").fill(agent.username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#device-name").fill("入口平板 1")
    page.get_by_role("button", name=T[lang]["enrol"]).click()
    expect(page).to_have_url(re.compile(r"/kiosk/$"))


def tap_number(page, digits: str) -> None:
    page.wait_for_load_state("domcontentloaded")  # the keypad's script is attached by then
    for digit in digits:
        page.locator(f'.keypad button[data-key="{digit}"]').click()


def choose(page, text: str) -> None:
    """Tap a choice tile (a radio button the size of the tile)."""
    page.locator("label.tile", has_text=text).click()


def look(page, name: str) -> None:
    """Every screen: no serious or critical axe finding, and a picture for a person."""
    assert_accessible(page)
    screenshot(page, name)


def count(committed, model, *where) -> int:
    committed.session.expire_all()
    return committed.session.scalar(select(func.count()).select_from(model).where(*where))


def store_visits(committed, store) -> list[Visit]:
    committed.session.expire_all()
    return list(committed.session.scalars(select(Visit).where(Visit.store_id == store.id)))


def start(page, lang: str) -> None:
    """From the welcome screen to the keypad, in the visitor's language."""
    if lang == "en":
        page.get_by_role("button", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator(".kiosk-start").click()
    expect(page).to_have_url(re.compile(r"/kiosk/mobile$"))


@pytest.mark.parametrize(("lang", "size"), LOOKS)
def test_a_new_visitor_checks_in(page, committed, lang, size):
    page.set_viewport_size(SIZES[size])
    store = committed.store(name="西溪店")
    committed.consultant(store, name="张伟")
    enrol_through_the_page(page, committed, store, lang="zh")
    expect(page.locator("h1")).to_contain_text("西溪店")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")  # Chinese by default
    if lang == "en":
        page.get_by_role("button", name="English").click()
    look(page, f"kiosk-welcome-{lang}-{size}")
    page.locator(".kiosk-start").click()

    tap_number(page, "139123456789")  # one digit too many: the keypad stops at maxlength
    page.locator('.keypad button[data-key="back"]').click()
    tap_number(page, "8")
    expect(page.locator("#mobile")).to_have_value("13912345678")
    look(page, f"kiosk-mobile-{lang}-{size}")
    page.locator(".kiosk-next").click()

    expect(page).to_have_url(re.compile(r"/kiosk/name$"))
    page.locator("#surname").fill("李")
    choose(page, T[lang]["ms"])
    look(page, f"kiosk-name-{lang}-{size}")
    page.locator(".kiosk-next").click()

    expect(page).to_have_url(re.compile(r"/kiosk/interest$"))
    expect(page.locator("input[name=car_model][value=none]")).to_be_checked()
    choose(page, "凯美瑞")
    choose(page, T[lang]["test_drive"])
    page.wait_for_load_state("domcontentloaded")
    page.get_by_role("button", name="增加一人" if lang == "zh" else "One more").click()
    expect(page.locator("#party_size")).to_have_value("2")
    look(page, f"kiosk-interest-{lang}-{size}")
    page.locator(".kiosk-next").click()

    expect(page).to_have_url(re.compile(r"/kiosk/consent$"))
    consent = page.locator("#consent")
    expect(consent).not_to_be_checked()  # consent is never pre-ticked
    expect(page.locator(".kiosk-notice")).to_contain_text("2026-01")
    look(page, f"kiosk-consent-{lang}-{size}")
    consent.check()
    page.locator(".kiosk-next").click()

    expect(page).to_have_url(re.compile(r"/kiosk/done$"))
    expect(page.locator(".kiosk-done-lead")).to_contain_text("张伟")
    expect(page.locator(".kiosk-done-lead")).to_contain_text(T[lang]["coming"])
    look(page, f"kiosk-done-{lang}-{size}")

    [visit] = store_visits(committed, store)
    model = committed.session.get(CarModel, visit.car_model_id)
    assert (visit.purpose, visit.party_size, model.name) == ("test_drive", 2, "凯美瑞")
    customer = committed.session.get(Customer, visit.customer_id)
    assert (customer.mobile, customer.surname, customer.title) == ("13912345678", "李", "ms")
    assert count(committed, ConsentRecord, ConsentRecord.customer_id == customer.id) == 1

    # "Finish" clears the screen for the next visitor; the done page cannot be reopened.
    page.get_by_role("link", name="完成" if lang == "zh" else "Finish").click()
    expect(page).to_have_url(re.compile(r"/kiosk/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.goto("/kiosk/done")
    expect(page).to_have_url(re.compile(r"/kiosk/$"))
    page.go_back()
    expect(page.locator("text=张伟")).to_have_count(0)


@pytest.mark.parametrize(("lang", "size"), LOOKS)
def test_a_returning_visitor_confirms_who_they_are_and_checks_in_without_consent(
    page, committed, base_url, lang, size
):
    page.set_viewport_size(SIZES[size])
    store = committed.store(name="西溪店")
    owner = committed.consultant(store, name="王芳")
    customer = committed.customer(
        store, surname="王", title="mr", mobile="13812345678", consented=False
    )
    committed.opportunity(customer, owner=owner, grade="B")
    set_device_cookie(page, committed, store, base_url)
    page.goto("/kiosk/")
    start(page, lang)
    tap_number(page, "13812345678")
    page.locator(".kiosk-next").click()

    expect(page).to_have_url(re.compile(r"/kiosk/confirm$"))
    identity = page.locator(".kiosk-identity")
    expect(identity).to_have_text("138****5678")  # no name: the kiosk tells only what was typed
    expect(page.locator("body")).not_to_contain_text("13812345678")
    look(page, f"kiosk-confirm-{lang}-{size}")
    page.get_by_role("button", name=T[lang]["yes"]).click()

    choose(page, T[lang]["delivery"])
    page.locator(".kiosk-next").click()
    expect(page.locator("#consent")).not_to_be_checked()
    page.locator(".kiosk-next").click()  # no consent

    expect(page.locator(".kiosk-done-lead")).to_contain_text("王芳")
    [visit] = store_visits(committed, store)
    assert visit.customer_id == customer.id and visit.consultant_id == owner.id
    assert visit.purpose == "delivery" and visit.car_model_id is None
    assert count(committed, ConsentRecord, ConsentRecord.customer_id == customer.id) == 0


@pytest.mark.parametrize(("lang", "size"), LOOKS[:2])
def test_an_invalid_number_and_bad_names_are_explained_and_what_was_typed_is_kept(
    page, committed, base_url, lang, size
):
    page.set_viewport_size(SIZES[size])
    store = committed.store()
    set_device_cookie(page, committed, store, base_url)
    page.goto("/kiosk/")
    start(page, lang)

    tap_number(page, "12345")
    page.locator(".kiosk-next").click()
    error = page.locator("#mobile-error")
    expect(error).to_have_text(
        "请输入以 13–19 开头的 11 位中国大陆手机号。"
        if lang == "zh"
        else "Enter an 11-digit Chinese mobile number starting 13-19."
    )
    expect(page.locator("#mobile")).to_have_value("12345")
    expect(page.locator("#mobile")).to_have_attribute("aria-invalid", "true")
    look(page, f"kiosk-mobile-error-{lang}-{size}")

    page.locator('.keypad button[data-key="clear"]').click()
    page.locator("#mobile").type("13912345678")  # a hardware keyboard works too
    page.locator(".kiosk-next").click()

    typed = "<b>王</b>"
    page.locator("#surname").fill(typed)
    page.locator(".kiosk-next").click()  # and no title chosen
    expect(page.locator("#surname")).to_have_value(typed)
    expect(page.locator("#surname-error")).to_be_visible()
    expect(page.locator("#title-error")).to_be_visible()
    expect(page.locator("b", has_text="王")).to_have_count(0)  # markup is shown as text
    look(page, f"kiosk-name-error-{lang}-{size}")

    page.locator("#surname").fill("欧阳欧阳欧阳欧阳欧阳欧")
    choose(page, T[lang]["mr"])
    page.locator(".kiosk-next").click()
    expect(page.locator("#surname-error")).to_contain_text("10")
    expect(page.get_by_role("radio", name=T[lang]["mr"])).to_be_checked()

    page.locator("#surname").fill("欧阳")
    page.locator(".kiosk-next").click()
    page.locator(".kiosk-next").click()  # no purpose chosen
    expect(page.locator("#purpose-error")).to_be_visible()
    look(page, f"kiosk-interest-error-{lang}-{size}")

    assert count(committed, Customer, Customer.store_id == store.id) == 0
    assert store_visits(committed, store) == []


def test_a_double_tap_and_a_resubmit_give_one_visit(page, committed, base_url):
    store = committed.store()
    committed.consultant(store, name="张伟")
    set_device_cookie(page, committed, store, base_url)

    def to_consent(mobile: str) -> None:
        page.goto("/kiosk/")
        start(page, "zh")
        tap_number(page, mobile)
        page.locator(".kiosk-next").click()
        page.locator("#surname").fill("李")
        choose(page, "女士")
        page.locator(".kiosk-next").click()
        choose(page, "看车")
        page.locator(".kiosk-next").click()
        expect(page).to_have_url(re.compile(r"/kiosk/consent$"))
        page.wait_for_load_state("domcontentloaded")

    # A double tap on the last button: the page sends the form once.
    to_consent("13900000001")
    page.locator(".kiosk-next").dblclick()
    expect(page.locator(".kiosk-done-lead")).to_contain_text("张伟")
    assert len(store_visits(committed, store)) == 1

    # Two posts that both get through (a resubmit racing the first): still one visit.
    to_consent("13900000002")
    statuses = page.evaluate(
        """async () => {
            const form = document.querySelector("form[action$='/kiosk/consent']");
            const send = () => fetch(form.action, {method: "POST", body: new FormData(form)});
            const responses = await Promise.all([send(), send()]);
            return responses.map(r => r.status);
        }"""
    )
    assert statuses == [200, 200]
    found = store_visits(committed, store)
    assert len(found) == 2
    assert len({v.customer_id for v in found}) == 2


def test_the_kiosk_returns_to_welcome_after_the_idle_time_and_forgets_everything(
    page, committed, base_url, app
):
    saved = app.config.get("KIOSK_IDLE_SECONDS")
    app.config["KIOSK_IDLE_SECONDS"] = 2
    try:
        store = committed.store()
        set_device_cookie(page, committed, store, base_url)
        page.goto("/kiosk/")
        start(page, "en")
        expect(page.locator('meta[name="kiosk-idle-seconds"]')).to_have_attribute("content", "2")
        # Touches keep the page alive past the idle time...
        for digit in "1391234":
            tap_number(page, digit)
            time.sleep(0.5)
        expect(page).to_have_url(re.compile(r"/kiosk/mobile$"))
        tap_number(page, "5678")
        page.locator(".kiosk-next").click()
        page.locator("#surname").fill("李")
        # ...and without a touch the kiosk goes back to the welcome screen, in Chinese.
        expect(page).to_have_url(re.compile(r"/kiosk/$"), timeout=6000)
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        page.locator(".kiosk-start").click()
        expect(page.locator("#mobile")).to_have_value("")
        page.goto("/kiosk/name")
        expect(page).to_have_url(re.compile(r"/kiosk/$"))
        assert count(committed, Customer, Customer.store_id == store.id) == 0
    finally:
        if saved is None:
            app.config.pop("KIOSK_IDLE_SECONDS", None)
        else:
            app.config["KIOSK_IDLE_SECONDS"] = saved


def test_a_kiosk_is_refused_every_console_page(page, committed, base_url):
    store = committed.store()
    set_device_cookie(page, committed, store, base_url)
    for path in ("/console/", "/console/login", "/console/customers"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
    screenshot(page, "kiosk-console-refused")


@pytest.mark.parametrize(("lang", "size"), LOOKS[:2])
def test_enrolment_and_error_screens_are_accessible(page, committed, lang, size):
    page.set_viewport_size(SIZES[size])
    store = committed.store(name="西溪店")
    consultant = committed.user(store, "consultant")
    page.goto("/kiosk/enrol")
    if lang == "en":
        page.get_by_role("button", name="English").click()
    look(page, f"kiosk-enrol-{lang}-{size}")

    # A consultant may not enrol a kiosk; the message says who may.
    page.locator("#username").fill(consultant.username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#device-name").fill("平板")
    page.get_by_role("button", name=T[lang]["enrol"]).click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#username")).to_have_value(consultant.username)
    look(page, f"kiosk-enrol-refused-{lang}-{size}")

    enrol_through_the_page(page, committed, store, lang=lang)
    # Enrolment leaves the kiosk in its default language, Chinese.
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    if lang == "en":
        page.get_by_role("button", name="English").click()
    page.goto("/kiosk/no-such-page")
    expect(page.locator(".kiosk-error-code")).to_have_text("404")
    expect(page.locator("a[href^='/console']")).to_have_count(0)
    look(page, f"kiosk-error-404-{lang}-{size}")
    page.get_by_role("link", name="返回首页" if lang == "zh" else "Back to the start").click()
    expect(page).to_have_url(re.compile(r"/kiosk/$"))


@pytest.mark.parametrize(("lang", "size"), LOOKS[:2])
def test_with_nobody_free_the_visitor_is_asked_to_take_a_seat(
    page, committed, base_url, lang, size
):
    page.set_viewport_size(SIZES[size])
    store = committed.store()
    committed.consultant(store, presence=Presence.ON_BREAK)
    set_device_cookie(page, committed, store, base_url)
    page.goto("/kiosk/")
    start(page, lang)
    tap_number(page, "13700001234")
    page.locator(".kiosk-next").click()
    page.locator("#surname").fill("Smith")
    choose(page, T[lang]["mr"])
    page.locator(".kiosk-next").click()
    choose(page, T[lang]["look"])
    page.locator(".kiosk-next").click()
    page.locator(".kiosk-next").click()
    expect(page.locator(".kiosk-done-lead")).to_contain_text(T[lang]["seat"])
    expect(page.locator(".kiosk-queue")).to_contain_text("1")
    look(page, f"kiosk-done-queue-{lang}-{size}")

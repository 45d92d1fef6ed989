"""The manager's rules in a real browser, at tablet and desktop size: a cap changed after its
what-if preview, a scoring rule changed (with a refused value first), and customers reassigned
by hand from the team page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from core.opportunities.models import Opportunity
from core.rules.rulesets import current_rules
from core.stores.models import ConsultantSettings
from tests.e2e.conftest import TABLET_LANDSCAPE, assert_accessible, screenshot, sign_in

DESKTOP = {"width": 1440, "height": 900}

T = {
    "zh": {
        "Rules": "规则设置",
        "Preview": "预览今晚的夜间任务",
        "Save these rules": "保存这些规则",
        "over cap": "放回待分配池：超出负荷上限",
        "saved": "规则已保存，今晚的夜间任务将按新规则执行。",
        "History": "历史记录",
        "Scoring": "评分规则",
        "Save the scoring": "保存评分规则",
        "unreachable H": "任何选项组合都达不到这个分数",
        "Add an answer": "添加选项",
        "scoring saved": "评分规则已保存，之后的需求分析按新规则评分。",
        "Team": "团队",
        "Reassign": "改派",
        "reassigned": "已将 2 位客户改派给 Ben。",
        "above": "超出负荷上限。",
    },
    "en": {
        "Rules": "Rules",
        "Preview": "Preview tonight's run",
        "Save these rules": "Save these rules",
        "over cap": "Back to the pool: above a load cap",
        "saved": "Rules saved. Tonight's run uses them.",
        "History": "History",
        "Scoring": "Scoring",
        "Save the scoring": "Save the scoring",
        "unreachable H": "No combination of answers reaches this score",
        "Add an answer": "Add an answer",
        "scoring saved": "Scoring saved. New needs analyses use it.",
        "Team": "Team",
        "Reassign": "Reassign",
        "reassigned": "2 customers reassigned to Ben.",
        "above": "Above the load cap.",
    },
}


def both_sizes(page, name: str) -> None:
    """Scan and keep a picture at tablet and at desktop size."""
    for size, suffix in ((TABLET_LANDSCAPE, "tablet"), (DESKTOP, "desktop")):
        page.set_viewport_size(size)
        assert_accessible(page)
        screenshot(page, f"{name}-{suffix}")
    page.set_viewport_size(TABLET_LANDSCAPE)


def shop(committed):
    store = committed.store()
    manager = committed.user(store, "manager", name="Manager Li")
    anna = committed.consultant(store, cap=5, name="Anna")
    ben = committed.consultant(store, name="Ben", cap=3)
    committed.book(anna, 5, "A")
    committed.book(ben, 1, "H")
    for grade in ("H", "B"):
        committed.opportunity(committed.customer(store), grade=grade, in_pool=True)
    return store, manager, anna, ben


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_manager_previews_a_lower_cap_then_saves_it(page, committed, app_engine, lang):
    t = T[lang]
    _store, manager, anna, _ben = shop(committed)
    sign_in(page, manager, lang=lang)
    page.get_by_role("link", name=t["Rules"], exact=True).click()
    expect(page.locator("h1")).to_have_text(t["Rules"])
    page.locator(f"#cap-{anna.id}").fill("3")
    page.get_by_role("button", name=t["Preview"], exact=True).last.click()
    preview = page.locator("#preview")
    expect(preview).to_be_visible()
    expect(preview).to_be_focused()
    row = preview.locator("tr", has_text=t["over cap"])
    expect(row.locator("td").nth(0)).to_have_text("0")
    expect(row.locator("td").nth(1)).to_have_text("2")
    anna_row = preview.locator(".preview-consultants tbody tr", has_text="Anna")
    expect(anna_row).to_contain_text("5 → 3")
    expect(page.locator(f"#cap-{anna.id}")).to_have_value("3")  # the form keeps what was typed
    both_sizes(page, f"rules-preview-{lang}")
    preview.get_by_role("button", name=t["Save these rules"]).click()
    expect(page.locator(".flash-success")).to_have_text(t["saved"])
    with Session(app_engine) as s:
        assert s.get(ConsultantSettings, anna.id).load_cap == 3
    page.get_by_role("link", name=t["History"], exact=True).click()
    expect(page.locator(".history-table tbody tr").first).to_contain_text("Anna")
    expect(page.locator(".history-table tbody tr").first).to_contain_text("Manager Li")
    both_sizes(page, f"rules-history-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_manager_changes_a_scoring_rule(page, committed, app_engine, lang):
    t = T[lang]
    store, manager, _anna, _ben = shop(committed)
    sign_in(page, manager, lang=lang)
    page.goto("/console/rules")
    page.get_by_role("link", name=t["Scoring"], exact=True).click()
    expect(page.locator("#max-total")).to_have_text("100")
    # the live total follows the points typed
    page.locator("#ind-1-opt-0-points").fill("15")
    expect(page.locator("#max-total")).to_have_text("105")
    page.locator("#threshold_H").fill("120")
    page.get_by_role("button", name=t["Save the scoring"], exact=True).last.click()
    expect(page.locator("#threshold_H-error")).to_contain_text(t["unreachable H"])
    expect(page.locator("#ind-1-opt-0-points")).to_have_value("15")  # nothing lost
    both_sizes(page, f"rules-scoring-error-{lang}")
    page.locator("#threshold_H").fill("80")
    page.locator("#add-option-1").click()
    new_zh = page.locator("#ind-1-opt-2-zh")
    expect(new_zh).to_be_focused()
    new_zh.fill("部分明确")
    page.locator("#ind-1-opt-2-en").fill("Partly clear")
    page.locator("#ind-1-opt-2-points").fill("5")
    expect(page.locator("#threshold_H")).to_have_value("80")
    page.get_by_role("button", name=t["Save the scoring"], exact=True).last.click()
    expect(page.locator(".flash-success")).to_have_text(t["scoring saved"])
    with Session(app_engine) as s:
        rules = current_rules(s, store.id)
    assert rules.version == 2 and rules.scoring["thresholds"]["H"] == 80
    budget = rules.scoring["indicators"][1]
    assert [o["points"] for o in budget["options"]] == [15, 0, 5]
    assert budget["options"][2]["label"] == {"zh": "部分明确", "en": "Partly clear"}
    both_sizes(page, f"rules-scoring-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_manager_reassigns_customers_from_the_team_page(page, committed, app_engine, lang):
    t = T[lang]
    store, manager, _anna, ben = shop(committed)
    sign_in(page, manager, lang=lang)
    page.get_by_role("link", name=t["Team"], exact=True).click()
    page.locator("tr", has_text="Anna").get_by_role("link", name=t["Reassign"]).click()
    boxes = page.locator("input[name=opportunity]")
    expect(boxes).to_have_count(5)
    boxes.nth(0).check()
    boxes.nth(1).check()
    boxes.nth(2).check()
    page.locator(f"label[for='to-{ben.id}']").click()
    # Ben has 1 of 3: three more would take him past his cap, the page says so before saving
    expect(page.locator("#load-after")).to_contain_text(t["above"])
    boxes.nth(2).uncheck()
    expect(page.locator("#load-after")).not_to_contain_text(t["above"])
    page.locator("#reason").fill("Anna 休假两周" if lang == "zh" else "Anna on leave")
    both_sizes(page, f"reassign-{lang}")
    page.locator("#reassign-form button.primary").click()
    expect(page.locator(".flash-success")).to_have_text(t["reassigned"])
    with Session(app_engine) as s:
        owners = s.query(Opportunity.owner_id).filter(Opportunity.store_id == store.id).all()
    assert sum(1 for (o,) in owners if o == ben.id) == 3
    assert_accessible(page)

"""The analytics page in a real browser at tablet and desktop size: every chart drawn from the
same figures as the table beside it, both downloads opened, the period form's messages."""

from __future__ import annotations

import csv
import io
from datetime import time, timedelta

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from core.db import utcnow
from core.timeutil import local_date, local_moment
from tests.e2e.conftest import TABLET_LANDSCAPE, assert_accessible, screenshot, sign_in

DESKTOP = {"width": 1440, "height": 900}
SECTIONS = (
    "funnel",
    "funnel_rows",
    "misjudgement",
    "callbacks",
    "outcomes",
    "brands",
    "reasons",
    "defeat_reasons",
    "competitor_brands",
    "defeat_rows",
    "workload",
    "reception",
)


def build(committed, store):
    day = local_date(utcnow(), store.timezone) - timedelta(days=2)
    at = local_moment(day, time(10), store.timezone)
    team = [committed.consultant(store, name=n, cap=10) for n in ("李娜", "王磊", "张伟")]
    for i, consultant in enumerate(team):
        for k in range(i + 2):
            customer = committed.customer(store)
            committed.visit(
                customer,
                consultant=consultant,
                checked_in_at=at + timedelta(minutes=k),
                assigned_at=at + timedelta(minutes=k + 2),
                reception_started_at=at + timedelta(minutes=k + 4),
                reception_ended_at=at + timedelta(minutes=k + 30 + 10 * i),
            )
            opp = committed.opportunity(customer, owner=consultant, grade="A")
            committed.assessment_at(opp, consultant, at + timedelta(hours=1))
        committed.opportunity(
            committed.customer(store),
            owner=consultant,
            grade="F",
            closed_at=at,
            defeat_reason="other_brand" if i else "price",
            competitor_brand="大众" if i else None,
        )
        committed.callback_done(
            committed.customer(store),
            consultant=consultant,
            completed_at=at,
            outcome="bought_elsewhere" if i != 1 else "invite_back",
            has_bought=i != 1,
            would_revisit=True if i == 1 else None,
            bought_brand="比亚迪" if i != 1 else None,
            bought_reason="优惠更多" if i != 1 else None,
            satisfaction=3 + i,
        )
        committed.callback_done(
            committed.customer(store),
            consultant=consultant,
            completed_at=at,
            call_result="no_answer",
            outcome="unreachable",
        )
    return team


def read_chart(page, name):
    canvas = page.locator(f"#chart-{name}")
    expect(canvas).to_have_attribute("data-drawn", "true")
    return page.evaluate(
        """(id) => { const c = Chart.getChart(document.getElementById(id));
                    return {type: c.config.type, labels: c.data.labels,
                            data: c.data.datasets.map(d => d.data)}; }""",
        f"chart-{name}",
    )


def table_rows(page, name):
    return page.evaluate(
        """(id) => Array.from(document.querySelectorAll('#' + id + ' tbody tr')).map(
               tr => Array.from(tr.children).map(td => td.textContent.trim()))""",
        f"table-{name}",
    )


@pytest.mark.parametrize("viewport", [TABLET_LANDSCAPE, DESKTOP], ids=["tablet", "desktop"])
def test_every_chart_matches_its_table_and_both_downloads_open(page, committed, viewport):
    store = committed.store()
    build(committed, store)
    manager = committed.user(store, "manager")
    page.set_viewport_size(viewport)
    sign_in(page, manager)
    page.goto("/console/analytics")
    expect(page.get_by_role("heading", level=1)).to_have_text("数据分析")
    for name in SECTIONS:
        chart = read_chart(page, name)
        rows = table_rows(page, name)
        assert chart["labels"] == [r[0] for r in rows][: len(chart["labels"])], name
        label = page.locator(f"#chart-{name}").get_attribute("aria-label")
        assert rows[0][0] in label
    funnel = read_chart(page, "funnel")
    assert funnel["type"] == "bar"
    assert funnel["labels"] == ["到店", "首次接待", "意向", "邀约", "再次到店", "订单"]
    assert funnel["data"] == [[9, 9, 9, 0, 0, 0]]
    misjudged = read_chart(page, "misjudgement")
    assert dict(zip(misjudged["labels"], misjudged["data"][0], strict=True)) == {
        "李娜": 100.0,
        "张伟": 100.0,
        "王磊": 0.0,
    }
    reception = read_chart(page, "reception")
    assert dict(zip(reception["labels"], reception["data"][0], strict=True)) == {
        "张伟": pytest.approx(46.0),
        "王磊": pytest.approx(36.0),
        "李娜": pytest.approx(26.0),
    }
    assert ["已在别处购车", "2", "33.3%"] in table_rows(page, "outcomes")
    # chart beside the table on a desktop, above it on a tablet
    chart_box = page.locator("#chart-callbacks").bounding_box()
    table_box = page.locator("#table-callbacks").bounding_box()
    if viewport is DESKTOP:
        assert chart_box["x"] + chart_box["width"] <= table_box["x"]
    else:
        assert chart_box["y"] + chart_box["height"] <= table_box["y"]

    section = page.locator("#sec-misjudgement")
    with page.expect_download() as caught:
        section.get_by_role("link", name="CSV").click()
    download = caught.value
    assert download.suggested_filename.startswith("休眠客户误判分析_")
    with open(download.path(), encoding="utf-8-sig") as fh:
        text = fh.read()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["销售顾问", "休眠客户已接通", "已在别处购车", "误判率"]
    assert ["李娜", "1", "1", "100.0%", "0", "0.0%"] in rows
    assert rows[-1][0] == "合计"
    with page.expect_download() as caught:
        section.get_by_role("link", name="Excel").click()
    assert caught.value.suggested_filename.endswith(".xlsx")
    with open(caught.value.path(), "rb") as fh:
        sheet = load_workbook(io.BytesIO(fh.read())).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "销售顾问" and ["王磊", 1, 0, 0.0, 1, 1.0] in values
    assert_accessible(page)
    screenshot(page, f"analytics-{'desktop' if viewport is DESKTOP else 'tablet'}-zh")


def test_english_page_and_period_errors(page, committed):
    store = committed.store()
    team = build(committed, store)
    manager = committed.user(store, "manager")
    sign_in(page, manager, lang="en")
    page.goto("/console/analytics")
    assert read_chart(page, "funnel")["labels"][0] == "Visits"
    page.get_by_label("Consultant", exact=True).select_option(label="王磊")
    page.get_by_role("button", name="Show").click()
    assert [r[0] for r in table_rows(page, "funnel_rows")] == ["王磊"]
    assert page.get_by_label("Consultant", exact=True).input_value() == str(team[1].id)
    screenshot(page, "analytics-tablet-en")
    page.get_by_label("From", exact=True).fill("2026-03-05")
    page.get_by_label("To", exact=True).fill("2026-03-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#to-error")).to_have_text(
        "The end date must not be before the start date."
    )
    assert page.get_by_label("From", exact=True).input_value() == "2026-03-05"
    assert_accessible(page)
    page.get_by_role("link", name="Last month").click()
    expect(page.locator("#to-error")).to_have_count(0)
    assert page.get_by_label("Consultant", exact=True).input_value() == str(team[1].id)

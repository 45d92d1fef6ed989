"""The analytics page and its exports through HTTP: who may see them, the period form, the
files, and a fixed number of statements."""

from __future__ import annotations

import csv
import io
from datetime import date, time, timedelta

import pytest
from openpyxl import load_workbook

from core.db import utcnow
from core.timeutil import local_date, local_moment
from tests.querycount import count_statements


def today(store) -> date:
    return local_date(utcnow(), store.timezone)


def build(committed, store, name="李娜"):
    """A consultant with two visits, a misjudged dormant customer and a defeat this week."""
    day = today(store) - timedelta(days=1)
    at = local_moment(day, time(10), store.timezone)
    consultant = committed.consultant(store, name=name)
    for _ in range(2):
        committed.visit(
            committed.customer(store),
            consultant=consultant,
            checked_in_at=at,
            assigned_at=at + timedelta(minutes=1),
            reception_started_at=at + timedelta(minutes=5),
            reception_ended_at=at + timedelta(minutes=35),
        )
    committed.callback_done(
        committed.customer(store),
        consultant=consultant,
        completed_at=at,
        outcome="bought_elsewhere",
        has_bought=True,
        bought_brand="=cmd|' /C calc'!A0",
        bought_reason="朋友 13800138000 推荐",
    )
    committed.opportunity(
        committed.customer(store),
        owner=consultant,
        grade="F",
        closed_at=at,
        defeat_reason="other_brand",
        competitor_brand="大众",
    )
    return consultant


@pytest.mark.parametrize("role", ["consultant", "cs_agent"])
def test_only_managers_and_admins_see_analytics(signed_in, role):
    web, _user, _store = signed_in(role)
    assert web.get("/console/analytics").status_code == 403
    assert web.get("/console/analytics/export/funnel.csv").status_code == 403


def test_the_manager_sees_the_store_per_consultant(signed_in, committed):
    web, _user, store = signed_in("manager")
    build(committed, store)
    other = committed.store()
    build(committed, other, name="别店顾问")
    page = web.get("/console/analytics").get_data(as_text=True)
    assert "李娜" in page and "别店顾问" not in page
    for section in ("funnel", "misjudgement", "callbacks", "defeat_rows", "workload", "reception"):
        assert f'id="sec-{section}"' in page
        assert f"/console/analytics/export/{section}.csv" in page
        assert f"/console/analytics/export/{section}.xlsx" in page
    assert 'type="application/json" id="chart-data-funnel"' in page
    assert 'role="img"' in page


def test_the_period_form_keeps_what_was_typed_and_says_what_is_wrong(signed_in):
    web, _user, store = signed_in("manager")
    future = (today(store) + timedelta(days=1)).isoformat()
    response = web.get(f"/console/analytics?from=2026-13-40&to={future}")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="2026-13-40"' in page and f'value="{future}"' in page
    assert 'id="from-error"' in page and 'id="to-error"' in page
    response = web.get("/console/analytics?from=2026-03-05&to=2026-03-01")
    assert response.status_code == 422 and 'id="to-error"' in response.get_data(as_text=True)
    assert web.get("/console/analytics/export/funnel.csv?from=x&to=y").status_code == 400


def test_presets_fill_the_period(signed_in):
    web, _user, store = signed_in("manager")
    day = today(store)
    page = web.get("/console/analytics?preset=last_7").get_data(as_text=True)
    assert f'value="{(day - timedelta(days=6)).isoformat()}"' in page
    assert f'value="{day.isoformat()}"' in page


def test_a_consultant_of_another_store_cannot_be_chosen(signed_in, committed):
    web, _user, store = signed_in("manager")
    mine = build(committed, store)
    theirs = build(committed, committed.store(), name="别店顾问")
    assert web.get(f"/console/analytics?consultant={mine.id}").status_code == 200
    response = web.get(f"/console/analytics?consultant={theirs.id}")
    assert response.status_code == 422
    assert 'id="consultant-error"' in response.get_data(as_text=True)
    assert (
        web.get(f"/console/analytics/export/funnel.csv?consultant={theirs.id}").status_code == 400
    )


def test_csv_export(signed_in, committed):
    web, _user, store = signed_in("manager", store=None)
    build(committed, store)
    day = today(store)
    start = (day - timedelta(days=6)).isoformat()
    response = web.get(f"/console/analytics/export/brands.csv?from={start}&to={day.isoformat()}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert f'filename="brands_{start}_{day.isoformat()}.csv"' in disposition
    assert "filename*=UTF-8''" in disposition
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["品牌", "数量", "占比"]
    assert rows[1] == ["'=cmd|' /C calc'!A0", "1", "100.0%"]
    reasons = web.get("/console/analytics/export/reasons.csv").get_data().decode("utf-8-sig")
    assert "138****8000" in reasons and "13800138000" not in reasons


def test_xlsx_export_with_the_totals_row(signed_in, committed):
    web, _user, store = signed_in("manager")
    build(committed, store)
    response = web.get("/console/analytics/export/misjudgement.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == [
        "销售顾问",
        "休眠客户已接通",
        "已在别处购车",
        "误判率",
        "愿意再到店",
        "愿意再到店比例",
    ]
    assert rows[1] == ["李娜", 1, 1, 1.0, 0, 0.0]
    assert rows[2] == ["合计", 1, 1, 1.0, 0, 0.0]
    assert web.get("/console/analytics/export/nothing.xlsx").status_code == 404
    assert web.get("/console/analytics/export/funnel.pdf").status_code == 404


def test_the_admin_sees_the_group_per_store_then_one_store(signed_in, committed):
    web, _user, home = signed_in("admin")
    build(committed, home)
    second = committed.store()
    build(committed, second, name="赵强")
    page = web.get("/console/analytics").get_data(as_text=True)
    assert home.name in page and second.name in page and "全部门店" in page
    assert 'id="consultant"' not in page  # pick a store first
    rows = list(
        csv.reader(
            io.StringIO(
                web.get("/console/analytics/export/funnel_rows.csv").get_data().decode("utf-8-sig")
            )
        )
    )
    assert rows[0][0] == "门店"
    assert {r[0] for r in rows[1:]} >= {home.name, second.name, "全部门店"}
    one = web.get(f"/console/analytics?store={second.id}").get_data(as_text=True)
    assert "赵强" in one and 'id="consultant"' in one
    assert web.get("/console/analytics?store=999999").status_code == 422


def _statements(web, engine, path):
    with count_statements(engine) as statements:
        response = web.get(path)
    assert response.status_code == 200
    return len(statements)


@pytest.mark.parametrize("path", ["/console/analytics", "/console/analytics/export/callbacks.xlsx"])
def test_statement_count_does_not_grow_with_the_data(signed_in, committed, app_engine, path):
    web, _user, store = signed_in("manager")
    build(committed, store)
    small = _statements(web, app_engine, path)
    for n in range(4):
        build(committed, store, name=f"顾问{n}")
    assert _statements(web, app_engine, path) == small


def test_a_period_in_other_digits_is_refused_next_to_its_field(signed_in):
    web, _user, _store = signed_in("manager")
    response = web.get("/console/analytics?from=２０２６-03-01&to=2026-03-0٥")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert page.count("请按 年-月-日（YYYY-MM-DD）格式输入日期。") >= 2
    assert 'id="from-error"' in page and 'id="to-error"' in page
    assert 'value="２０２６-03-01"' in page and 'value="2026-03-0٥"' in page

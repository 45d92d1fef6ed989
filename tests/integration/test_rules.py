"""The manager's rules page over HTTP: caps and cycles with the what-if preview, the scoring
editor, the history; reassigning customers by hand (issue 7, first half)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit import AuditEvent
from core.callbacks.models import CallbackTask
from core.db import utcnow
from core.dispatch.models import Assignment
from core.opportunities.models import Opportunity
from core.rules.rulesets import DEFAULT_SCORING, current_rules
from core.stores.models import ConsultantSettings
from tests.querycount import count_statements


def page(response) -> str:
    return response.get_data(as_text=True)


def english(web) -> None:
    web.post("/lang", {"lang": "en", "next": "/console/"})


def count(app_engine, model, *where) -> int:
    with Session(app_engine) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def rules_of(app_engine, store_id):
    with Session(app_engine) as s:
        return current_rules(s, store_id)


def dispatch_form(consultants=(), **values) -> dict[str, str]:
    form = {
        "default_load_cap": "30",
        "retry_limit": "3",
        "follow_up_H": "2",
        "cycle_H": "7",
        "follow_up_A": "4",
        "cycle_A": "15",
        "follow_up_B": "7",
        "cycle_B": "30",
    }
    for c in consultants:
        form[f"cap-{c.id}"] = ""
        form[f"active-{c.id}"] = "on"
    form.update(values)
    return {k: v for k, v in form.items() if v is not None}


def scoring_form(scoring=DEFAULT_SCORING, **values) -> dict[str, str]:
    form = {"ind_count": str(len(scoring["indicators"]))}
    for i, ind in enumerate(scoring["indicators"]):
        form[f"ind-{i}-key"] = ind["key"]
        form[f"ind-{i}-zh"] = ind["label"]["zh"]
        form[f"ind-{i}-en"] = ind["label"]["en"]
        form[f"ind-{i}-opt_count"] = str(len(ind["options"]))
        for j, opt in enumerate(ind["options"]):
            q = f"ind-{i}-opt-{j}"
            form[f"{q}-key"] = opt["key"]
            form[f"{q}-zh"] = opt["label"]["zh"]
            form[f"{q}-en"] = opt["label"]["en"]
            form[f"{q}-points"] = str(opt["points"])
    for g, t in scoring["thresholds"].items():
        form[f"threshold_{g}"] = str(t)
    form.update(values)
    return form


def previewed(html: str) -> str:
    match = re.search(r'name="previewed" value="([0-9a-f]*)"', html)
    assert match
    return match.group(1)


@pytest.fixture
def shop(signed_in, committed):
    web, manager, store = signed_in("manager")
    english(web)
    anna = committed.consultant(store, name="Anna", cap=4)
    ben = committed.consultant(store, name="Ben")
    committed.book(anna, 4, "A")
    committed.book(ben, 2, "H")
    for grade in ("H", "B"):
        committed.opportunity(committed.customer(store), grade=grade, in_pool=True)
    return web, manager, store, anna, ben


# --- who may open it --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["consultant", "cs_agent", "admin"])
def test_only_a_manager_opens_the_rules(signed_in, role):
    web, _user, _store = signed_in(role)
    assert web.get("/console/rules").status_code == 403
    assert web.get("/console/reassign").status_code == 403
    assert web.post("/console/rules/dispatch", dispatch_form()).status_code == 403
    assert web.post("/console/rules/scoring", {"action": "save"}).status_code == 403


def test_the_rules_page_shows_the_rules_in_force(shop):
    web, _manager, _store, anna, ben = shop
    html = page(web.get("/console/rules"))
    assert 'name="default_load_cap"' in html and 'value="30"' in html
    assert f'name="cap-{anna.id}"' in html and 'value="4"' in html
    assert f'id="active-{ben.id}" name="active-{ben.id}" checked' in html
    assert 'name="follow_up_H"' in html and 'name="retry_limit"' in html
    assert "Preview tonight's run" in html
    scoring = page(web.get("/console/rules?tab=scoring"))
    assert 'value="Purchase timeframe"' in scoring and 'value="购车时间"' in scoring
    assert '<output id="max-total" aria-live="polite">100</output>' in scoring
    assert "No rule has been changed yet" in page(web.get("/console/rules?tab=history"))


# --- caps and cycles: preview, then save ------------------------------------------------------


def test_preview_shows_both_sides_and_saves_nothing(shop, app_engine):
    web, _manager, store, anna, ben = shop
    before = (
        count(app_engine, CallbackTask, CallbackTask.store_id == store.id),
        count(app_engine, Assignment, Assignment.store_id == store.id),
        count(app_engine, AuditEvent, AuditEvent.store_id == store.id),
    )
    form = dispatch_form((anna, ben), **{f"cap-{anna.id}": "2", f"active-{ben.id}": None})
    response = web.post("/console/rules/dispatch", {**form, "action": "preview"})
    assert response.status_code == 200
    html = page(response)
    assert "Tonight's run on" in html
    assert "Back to the pool: above a load cap" in html and "Left in the pool" in html
    # the form is still filled with what was typed
    assert re.search(rf'name="cap-{anna.id}"[^>]*value="2"', html)
    assert f'id="active-{ben.id}" name="active-{ben.id}">' in html  # still unticked
    after = (
        count(app_engine, CallbackTask, CallbackTask.store_id == store.id),
        count(app_engine, Assignment, Assignment.store_id == store.id),
        count(app_engine, AuditEvent, AuditEvent.store_id == store.id),
    )
    assert after == before
    assert rules_of(app_engine, store.id).version == 1
    with Session(app_engine) as s:
        assert s.get(ConsultantSettings, ben.id).active
        assert s.get(ConsultantSettings, anna.id).load_cap == 4


def test_save_shows_the_preview_first_then_saves_the_previewed_values(shop, app_engine):
    web, _manager, store, anna, ben = shop
    form = dispatch_form((anna, ben), default_load_cap="25", follow_up_H="3")
    first = web.post("/console/rules/dispatch", {**form, "action": "save"})
    assert first.status_code == 200
    assert "Check what tonight" in page(first) and 'id="preview"' in page(first)
    assert rules_of(app_engine, store.id).version == 1
    # values changed after the preview: previewed again, not saved
    stale = web.post(
        "/console/rules/dispatch",
        {**form, "default_load_cap": "26", "previewed": previewed(page(first)), "action": "save"},
    )
    assert 'id="preview"' in page(stale) and rules_of(app_engine, store.id).version == 1
    saved = web.post(
        "/console/rules/dispatch",
        {**form, "previewed": previewed(page(first)), "action": "save"},
    )
    assert saved.status_code == 302
    rules = rules_of(app_engine, store.id)
    assert (rules.version, rules.default_load_cap, rules.cycles["H"].follow_up_days) == (2, 25, 3)
    follow = page(web.get(saved.headers["Location"]))
    assert "Rules saved" in follow
    history = page(web.get("/console/rules?tab=history"))
    assert "Store load cap: 30 → <strong>25</strong>" in history
    assert "Grade H: follow up every: 2 days → <strong>3 days</strong>" in history


def test_consultant_changes_are_saved_and_listed_in_the_history(shop, app_engine):
    web, manager, store, anna, ben = shop
    form = dispatch_form((anna, ben), **{f"cap-{anna.id}": "", f"active-{ben.id}": None})
    first = web.post("/console/rules/dispatch", {**form, "action": "preview"})
    saved = web.post(
        "/console/rules/dispatch", {**form, "previewed": previewed(page(first)), "action": "save"}
    )
    assert saved.status_code == 302
    with Session(app_engine) as s:
        assert s.get(ConsultantSettings, anna.id).load_cap is None
        assert not s.get(ConsultantSettings, ben.id).active
    assert rules_of(app_engine, store.id).version == 1  # the store's own values did not change
    history = page(web.get("/console/rules?tab=history"))
    assert "Anna" in history and "Own load cap: 4 → <strong>store cap</strong>" in history
    assert "Ben" in history and "active → <strong>inactive</strong>" in history
    assert manager.display_name in history


def test_bad_values_are_refused_next_to_the_fields_and_kept(shop, app_engine):
    web, _manager, store, anna, ben = shop
    form = dispatch_form(
        (anna, ben),
        default_load_cap="0",
        follow_up_A="1",
        cycle_B="3",
        retry_limit="x",
        **{f"cap-{anna.id}": "many"},
    )
    response = web.post("/console/rules/dispatch", {**form, "action": "save"})
    assert response.status_code == 422
    html = page(response)
    assert "Enter a load cap from 1 to 500." in html
    assert "Grade A cannot be followed up more often than grade H" in html
    assert "The cycle cannot be shorter than the follow-up interval." in html
    assert html.count("Enter a whole number.") >= 2
    assert 'value="many"' in html and 'id="default_load_cap" name="default_load_cap"' in html
    assert 'href="#field-cycle_B"' in html and 'id="field-cycle_B"' in html
    assert 'id="preview"' not in html
    assert rules_of(app_engine, store.id).version == 1


def test_chinese_messages_on_the_rules_page(signed_in, committed):
    web, _manager, _store = signed_in("manager")
    response = web.post(
        "/console/rules/dispatch", {**dispatch_form(default_load_cap="0"), "action": "preview"}
    )
    html = page(response)
    assert "请输入 1 到 500 之间的负荷上限。" in html
    assert "规则" in page(web.get("/console/rules"))


# --- scoring ----------------------------------------------------------------------------------


def test_scoring_rows_are_added_and_removed_without_losing_what_was_typed(shop, app_engine):
    web, _manager, store, _anna, _ben = shop
    form = scoring_form(**{"ind-0-en": "Buying when", "threshold_H": "70"})
    added = page(web.post("/console/rules/scoring", {**form, "action": "add_option-1"}))
    assert 'name="ind-1-opt-2-zh"' in added and 'value="Buying when"' in added
    assert 'value="70"' in added
    removed = page(web.post("/console/rules/scoring", {**form, "action": "remove_indicator-0"}))
    assert 'value="Buying when"' not in removed and 'name="ind_count" value="8"' in removed
    new = page(web.post("/console/rules/scoring", {**form, "action": "add_indicator"}))
    assert 'name="ind_count" value="10"' in new and 'name="ind-9-opt_count" value="2"' in new
    assert rules_of(app_engine, store.id).version == 1


def test_scoring_is_saved_as_a_new_version(shop, app_engine):
    web, _manager, store, _anna, _ben = shop
    form = scoring_form(
        **{"ind-1-opt-0-points": "12", "threshold_H": "76", "ind-1-en": "Budget known"}
    )
    response = web.post("/console/rules/scoring", {**form, "action": "save"})
    assert response.status_code == 302
    rules = rules_of(app_engine, store.id)
    assert rules.version == 2 and rules.scoring["thresholds"]["H"] == 76
    assert rules.scoring["indicators"][1]["options"][0]["points"] == 12
    assert rules.scoring["indicators"][1]["label"]["en"] == "Budget known"
    history = page(web.get("/console/rules?tab=history"))
    assert "Threshold for H: 75 → <strong>76</strong>" in history
    assert "Budget known · Clear: 10 → <strong>12 points</strong>" in history
    assert "Indicator renamed: Budget clear → <strong>Budget known</strong>" in history


def test_scoring_errors_are_shown_next_to_the_fields(shop, app_engine):
    web, _manager, store, _anna, _ben = shop
    form = scoring_form(
        **{"ind-2-zh": "", "ind-1-opt-1-points": "-3", "threshold_A": "80", "threshold_H": "75"}
    )
    response = web.post("/console/rules/scoring", {**form, "action": "save"})
    assert response.status_code == 422
    html = page(response)
    assert "Enter the Chinese text." in html and 'href="#field-ind-2-zh"' in html
    assert "Points are a whole number from 0 to 100." in html
    assert "A&#39;s threshold must be below H&#39;s." in html
    assert 'value="-3"' in html and 'value="80"' in html
    unreachable = web.post(
        "/console/rules/scoring", {**scoring_form(threshold_H="120"), "action": "save"}
    )
    assert "No combination of answers reaches this score" in page(unreachable)
    assert rules_of(app_engine, store.id).version == 1


# --- reassignment -----------------------------------------------------------------------------


def test_the_team_page_links_to_reassigning(shop):
    web, _manager, _store, anna, _ben = shop
    html = page(web.get("/console/team"))
    assert f"/console/reassign?from={anna.id}" in html and "/console/reassign?from=pool" in html


def test_reassign_a_consultants_customers(shop, app_engine):
    web, manager, store, anna, ben = shop
    html = page(web.get(f"/console/reassign?from={anna.id}"))
    assert "Open customers of Anna" in html
    ids = re.findall(r'name="opportunity" value="(\d+)"', html)
    assert len(ids) == 4
    assert f'id="to-{ben.id}"' in html and f'id="to-{anna.id}"' not in html
    response = web.post(
        "/console/reassign",
        {"from": str(anna.id), "to": str(ben.id), "opportunity": ids[:2], "reason": "On leave"},
    )
    assert response.status_code == 302
    assert "2 customers reassigned to Ben." in page(web.get(response.headers["Location"]))
    with Session(app_engine) as s:
        rows = s.scalars(select(Assignment).where(Assignment.store_id == store.id)).all()
        assert {
            (a.from_owner_id, a.to_owner_id, a.reason, a.note, a.assigned_by) for a in rows
        } == {(anna.id, ben.id, "manual", "On leave", manager.id)}
        # each with Ben's load as it came to him
        assert sorted(a.to_load for a in rows) == [2, 3] and {a.to_cap for a in rows} == {30}
        chosen = [int(i) for i in ids[:2]]
        owners = s.scalars(select(Opportunity.owner_id).where(Opportunity.id.in_(chosen))).all()
        assert set(owners) == {ben.id}


def test_reassign_past_the_cap_asks_first(shop, app_engine):
    web, _manager, store, anna, ben = shop
    html = page(web.get(f"/console/reassign?from={ben.id}"))
    ids = re.findall(r'name="opportunity" value="(\d+)"', html)
    form = {"from": str(ben.id), "to": str(anna.id), "opportunity": ids, "reason": "Ben leaves"}
    response = web.post("/console/reassign", form)
    assert response.status_code == 422
    html = page(response)
    assert "This takes the consultant past their load cap." in html
    assert "Anna after the move: load 6 of 4." in html and "Above the load cap." in html
    assert 'name="confirm_over_cap"' in html and "Ben leaves" in html
    assert count(app_engine, Assignment, Assignment.store_id == store.id) == 0
    response = web.post("/console/reassign", {**form, "confirm_over_cap": "on"})
    assert response.status_code == 302
    follow = page(web.get(response.headers["Location"]))
    assert "Anna is now above the load cap: 6 of 4." in follow


def test_reassign_to_the_pool_and_from_the_pool(shop, app_engine):
    web, _manager, _store, anna, ben = shop
    html = page(web.get(f"/console/reassign?from={anna.id}"))
    [first, *_rest] = re.findall(r'name="opportunity" value="(\d+)"', html)
    response = web.post(
        "/console/reassign",
        {"from": str(anna.id), "to": "pool", "opportunity": [first], "reason": "Let refill"},
    )
    assert "1 customer put in the pool" in page(web.get(response.headers["Location"]))
    pool = page(web.get("/console/reassign?from=pool"))
    assert "Customers waiting in the refill pool" in pool and "returned by a manager" in pool
    ids = re.findall(r'name="opportunity" value="(\d+)"', pool)
    assert first in ids and len(ids) == 3
    response = web.post(
        "/console/reassign",
        {"from": "", "to": str(ben.id), "opportunity": [first], "reason": "Ben has room"},
    )
    assert response.status_code == 302
    with Session(app_engine) as s:
        assert s.get(Opportunity, int(first)).owner_id == ben.id
        assert s.get(Opportunity, int(first)).pool_since is None


def test_reassign_errors_keep_the_choice(shop, app_engine):
    web, _manager, store, anna, ben = shop
    html = page(web.get(f"/console/reassign?from={anna.id}"))
    ids = re.findall(r'name="opportunity" value="(\d+)"', html)
    response = web.post(
        "/console/reassign", {"from": str(anna.id), "opportunity": ids[:1], "reason": ""}
    )
    assert response.status_code == 422
    html = page(response)
    assert "Choose who receives the customers: a consultant or the pool." in html
    assert "Say why these customers change hands." in html
    assert f'value="{ids[0]}" data-counts="1" checked' in html
    other = web.post("/console/reassign", {"from": str(anna.id), "to": str(ben.id), "reason": "x"})
    assert "Choose at least one customer." in page(other)
    assert count(app_engine, Assignment, Assignment.store_id == store.id) == 0


def test_reassign_refuses_another_stores_customers_and_closed_ones(shop, committed, app_engine):
    web, _manager, store, anna, ben = shop
    theirs = committed.opportunity(committed.customer(committed.store()), grade="A")
    response = web.post(
        "/console/reassign",
        {"from": str(anna.id), "to": str(ben.id), "opportunity": [str(theirs.id)], "reason": "x"},
    )
    assert response.status_code == 404
    won = committed.opportunity(committed.customer(store), owner=anna, grade="O")
    response = web.post(
        "/console/reassign",
        {"from": str(anna.id), "to": str(ben.id), "opportunity": [str(won.id)], "reason": "x"},
    )
    assert response.status_code == 302
    assert "closed (ordered or lost)" in page(web.get(response.headers["Location"]))
    assert web.get(f"/console/reassign?from={theirs.owner_id or 999999}").status_code == 404
    assert count(app_engine, Assignment, Assignment.store_id == store.id) == 0


# --- statements do not grow with the data -----------------------------------------------------


def _statements(app_engine, call) -> int:
    with count_statements(app_engine) as statements:
        response = call()
    assert response.status_code in (200, 302), page(response)[:300]
    return len(statements)


def test_rules_pages_issue_a_fixed_number_of_statements(signed_in, committed, app_engine):
    web, _manager, store = signed_in("manager")
    team = [committed.consultant(store, cap=5) for _ in range(3)]
    for c in team:
        committed.book(c, 6, "A")  # above the cap in both sizes: the run takes the same steps
    committed.opportunity(committed.customer(store), grade="A", in_pool=True)
    form = {
        **dispatch_form(team, default_load_cap="4"),
        **{f"cap-{c.id}": "" for c in team},
        "action": "preview",
    }
    paths = [
        lambda: web.get("/console/rules"),
        lambda: web.get("/console/rules?tab=scoring"),
        lambda: web.get("/console/rules?tab=history"),
        lambda: web.get(f"/console/reassign?from={team[0].id}"),
        lambda: web.get("/console/reassign?from=pool"),
        lambda: web.post("/console/rules/dispatch", form),
    ]
    small = [_statements(app_engine, p) for p in paths]
    for c in team:
        committed.book(c, 25, "A")
        committed.book(c, 5, "C")
    for _ in range(10):
        committed.opportunity(committed.customer(store), grade="B", in_pool=True)
    yesterday = utcnow() - timedelta(days=1)
    for _ in range(5):
        committed.opportunity(
            committed.customer(store), grade="C", graded_at=yesterday, dormant_by=team[0].id
        )
    big = [_statements(app_engine, p) for p in paths]
    assert big == small


def test_a_preview_leaves_no_lock_behind(shop, app_engine):
    """The run inside the preview takes the store's lock (a row lock on PostgreSQL, the write
    lock on SQLite); once the request is over, another transaction takes it at once."""
    from sqlalchemy import text

    from core.locks import lock_store

    web, _manager, store, anna, ben = shop
    response = web.post(
        "/console/rules/dispatch", {**dispatch_form((anna, ben)), "action": "preview"}
    )
    assert response.status_code == 200 and 'id="preview"' in page(response)
    with Session(app_engine) as s:
        if app_engine.dialect.name == "postgresql":
            s.execute(text("SET LOCAL lock_timeout = '2s'"))
        lock_store(s, store.id)  # raises on a lock left behind
        s.rollback()

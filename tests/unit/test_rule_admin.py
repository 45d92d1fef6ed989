"""The manager's rules: validation with its messages, versions, audit, history; manual
reassignment."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.audit import AuditEvent
from core.dispatch.models import Assignment
from core.errors import DomainError, NotFound, ValidationError
from core.opportunities.grading import score_answers
from core.opportunities.models import Opportunity
from core.rules import admin as rule_admin
from core.rules.models import RuleSet
from core.rules.rulesets import DEFAULT_SCORING, current_rules
from core.stores.models import ConsultantSettings

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
DEFAULT_CYCLES = {"H": (2, 7), "A": (4, 15), "B": (7, 30)}


@pytest.fixture
def shop(factory):
    store = factory.store()
    return store, factory.user(store, "manager")


def errors_of(call) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.errors


def versions(session, store) -> int:
    return session.scalar(select(func.count()).where(RuleSet.store_id == store.id))


# --- caps, cycles, retries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cap", "retry", "cycles", "expected"),
    [
        (None, 3, DEFAULT_CYCLES, {"default_load_cap": "Enter a load cap from 1 to 500."}),
        # "abc" or "2.5" typed: the form's to refuse (tests/unit/test_forms.py)
        (0, 3, DEFAULT_CYCLES, {"default_load_cap": "Enter a load cap from 1 to 500."}),
        (501, 3, DEFAULT_CYCLES, {"default_load_cap": "Enter a load cap from 1 to 500."}),
        (30, 0, DEFAULT_CYCLES, {"retry_limit": "Enter a number of calls from 1 to 10."}),
        (30, 11, DEFAULT_CYCLES, {"retry_limit": "Enter a number of calls from 1 to 10."}),
        (
            30,
            3,
            {**DEFAULT_CYCLES, "H": (0, 7)},
            {"follow_up_H": "Enter a number of days from 1 to 365."},
        ),
        (
            30,
            3,
            {**DEFAULT_CYCLES, "A": (4, 3)},
            {"cycle_A": "The cycle cannot be shorter than the follow-up interval."},
        ),
        (
            30,
            3,
            {**DEFAULT_CYCLES, "A": (1, 15)},
            {
                "follow_up_A": "Grade A cannot be followed up more often than grade H: "
                "use at least H's days."
            },
        ),
        (
            30,
            3,
            {**DEFAULT_CYCLES, "B": (3, 30)},
            {
                "follow_up_B": "Grade B cannot be followed up more often than grade A: "
                "use at least A's days."
            },
        ),
        (
            30,
            3,
            {**DEFAULT_CYCLES, "A": (4, 6)},
            {"cycle_A": "Grade A's cycle cannot be shorter than grade H's."},
        ),
        (
            30,
            3,
            {**DEFAULT_CYCLES, "B": (7, 10)},
            {"cycle_B": "Grade B's cycle cannot be shorter than grade A's."},
        ),
        (
            None,
            None,
            {"H": (None, 7), "A": (4, 15), "B": (7, 400)},
            {
                "default_load_cap": "Enter a load cap from 1 to 500.",
                "retry_limit": "Enter a number of calls from 1 to 10.",
                "follow_up_H": "Enter a number of days from 1 to 365.",
                "cycle_B": "Enter a number of days from 1 to 365.",
            },
        ),
    ],
)
def test_rules_are_validated_field_by_field_and_nothing_is_saved(
    session, shop, cap, retry, cycles, expected
):
    store, manager = shop
    found = errors_of(
        lambda: rule_admin.save_rules(session, store.id, manager.id, NOW, cap, retry, cycles)
    )
    assert found == expected
    assert versions(session, store) == 1


def test_a_rules_change_is_a_new_version_with_its_audit(session, shop):
    store, manager = shop
    saved = rule_admin.save_rules(
        session, store.id, manager.id, NOW, 25, 4, {**DEFAULT_CYCLES, "H": (3, 8)}
    )
    assert (saved.version, saved.changed) == (2, True)
    rules = current_rules(session, store.id)
    assert (rules.version, rules.default_load_cap, rules.callback_retry_limit) == (2, 25, 4)
    assert (rules.cycles["H"].follow_up_days, rules.cycles["H"].cycle_days) == (3, 8)
    assert rules.scoring == DEFAULT_SCORING  # kept
    event = session.scalars(select(AuditEvent).where(AuditEvent.store_id == store.id)).one()
    assert (event.action, event.actor_id, event.at is not None) == (
        "rules.change",
        manager.id,
        True,
    )
    assert (
        event.data["old"]["default_load_cap"] == 30 and event.data["new"]["default_load_cap"] == 25
    )
    assert event.data["old"]["cycles"]["H"] == [2, 7] and event.data["new"]["cycles"]["H"] == [3, 8]
    # the same values again: nothing new
    again = rule_admin.save_rules(
        session, store.id, manager.id, NOW, 25, 4, {**DEFAULT_CYCLES, "H": (3, 8)}
    )
    assert (again.version, again.changed) == (2, False)
    assert versions(session, store) == 2


def test_a_consultants_cap_and_active_flag_are_audited(factory, session, shop):
    store, manager = shop
    anna = factory.consultant(store, name="Anna")
    assert rule_admin.set_consultant(session, store.id, manager.id, NOW, anna.id, 12, False)
    settings = session.get(ConsultantSettings, anna.id)
    assert (settings.load_cap, settings.active) == (12, False)
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.store_id == store.id, AuditEvent.entity_id == anna.id)
    ).one()
    assert event.action == "consultant.change"
    assert event.data == {
        "old": {"load_cap": None, "active": True},
        "new": {"load_cap": 12, "active": False},
    }
    assert not rule_admin.set_consultant(session, store.id, manager.id, NOW, anna.id, 12, False)
    found = errors_of(
        lambda: rule_admin.set_consultant(session, store.id, manager.id, NOW, anna.id, 0, True)
    )
    assert found == {
        f"cap-{anna.id}": "Enter a load cap from 1 to 500, or leave it empty for the store default."
    }
    other = factory.consultant(factory.store())
    with pytest.raises(NotFound):
        rule_admin.set_consultant(session, store.id, manager.id, NOW, other.id, None, True)


def test_the_caps_form_validates_everything_at_once(factory, session, shop):
    store, manager = shop
    anna = factory.consultant(store, name="Anna")
    ben = factory.consultant(store, name="Ben", cap=9)
    found = errors_of(
        lambda: rule_admin.validate_dispatch(
            session, store.id, 0, 3, DEFAULT_CYCLES, {anna.id: (0, True), ben.id: (None, True)}
        )
    )
    assert found == {
        "default_load_cap": "Enter a load cap from 1 to 500.",
        f"cap-{anna.id}": (
            "Enter a load cap from 1 to 500, or leave it empty for the store default."
        ),
    }
    change = rule_admin.validate_dispatch(
        session, store.id, 20, 3, DEFAULT_CYCLES, {anna.id: (15, True), ben.id: (None, False)}
    )
    assert change.consultants == {anna.id: (15, True), ben.id: (None, False)}
    saved = rule_admin.save_dispatch(session, store.id, manager.id, NOW, change)
    assert (saved.version, saved.rules_changed, saved.consultants_changed) == (2, True, 2)
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.store_id == store.id).order_by(AuditEvent.id)
    ).all()
    assert actions == ["rules.change", "consultant.change", "consultant.change"]
    history = rule_admin.history(session, store.id)
    assert {h.action for h in history} == {"rules.change", "consultant.change"}
    assert {h.subject for h in history if h.action == "consultant.change"} == {"Anna", "Ben"}
    assert all(h.actor == manager.display_name for h in history)
    assert (
        change.fingerprint()
        == rule_admin.validate_dispatch(
            session, store.id, 20, 3, DEFAULT_CYCLES, {anna.id: (15, True), ben.id: (None, False)}
        ).fingerprint()
    )


def test_a_consultant_of_another_store_is_not_found(factory, session, shop):
    store, _manager = shop
    stranger = factory.consultant(factory.store())
    with pytest.raises(NotFound):
        rule_admin.validate_dispatch(
            session, store.id, 30, 3, DEFAULT_CYCLES, {stranger.id: (None, True)}
        )


# --- scoring ----------------------------------------------------------------------------------


def scoring(**changes):
    s = copy.deepcopy(DEFAULT_SCORING)
    for path, value in changes.items():
        target = s
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        target[int(last) if last.isdigit() else last] = value
    return s


def test_the_default_scoring_is_valid_and_unchanged_by_validation():
    assert rule_admin.validate_scoring(DEFAULT_SCORING) == DEFAULT_SCORING


@pytest.mark.parametrize(
    ("scoring_dict", "expected"),
    [
        (
            scoring(indicators__0__label={"zh": " ", "en": "Timeframe"}),
            {"ind-0-zh": "Enter the Chinese text."},
        ),
        (
            scoring(indicators__1__options__0__label={"zh": "明确", "en": ""}),
            {"ind-1-opt-0-en": "Enter the English text."},
        ),
        (
            scoring(indicators__1__label={"zh": "预" * 41, "en": "Budget"}),
            {"ind-1-zh": "At most 40 characters."},
        ),
        (
            scoring(indicators__1__options__1__points=-1),
            {"ind-1-opt-1-points": "Points are a whole number from 0 to 100."},
        ),
        (
            scoring(indicators__1__options__1__key="yes"),
            {"ind-1-opt-1-key": "Two rows have the same key: each must be unique."},
        ),
        (
            scoring(indicators__2__key="budget"),
            {"ind-2-key": "Two rows have the same key: each must be unique."},
        ),
        (
            scoring(indicators__1__key="bad key"),
            {"ind-1-key": "Use letters, digits, - or _ only (at most 32)."},
        ),
        (
            scoring(
                indicators__1__options=[
                    {"key": "yes", "label": {"zh": "是", "en": "Yes"}, "points": 10}
                ]
            ),
            {"ind-1-options": "An indicator needs from 2 to 10 answers."},
        ),
        (scoring(indicators=[]), {"indicators": "Add at least one indicator."}),
        (
            scoring(thresholds={"H": 75, "A": 75, "B": 35}),
            {"threshold_A": "A's threshold must be below H's."},
        ),
        (
            scoring(thresholds={"H": 75, "A": 55, "B": 60}),
            {"threshold_B": "B's threshold must be below A's."},
        ),
        (
            scoring(thresholds={"H": 75, "A": 55, "B": 0}),
            {"threshold_B": "Enter a whole number of points above 0."},
        ),
        (
            scoring(thresholds={"H": 101, "A": 55, "B": 35}),
            {
                "threshold_H": "No combination of answers reaches this score: lower it or give "
                "more points."
            },
        ),
    ],
)
def test_scoring_is_validated_with_a_message_per_field(session, shop, scoring_dict, expected):
    store, manager = shop
    found = errors_of(
        lambda: rule_admin.save_scoring(session, store.id, manager.id, NOW, scoring_dict)
    )
    assert found == expected
    assert versions(session, store) == 1


def two_questions(points_a, points_b, thresholds):
    def ind(key, points):
        return {
            "key": key,
            "label": {"zh": key, "en": key},
            "options": [
                {"key": f"o{i}", "label": {"zh": str(p), "en": str(p)}, "points": p}
                for i, p in enumerate(points)
            ],
        }

    return {"indicators": [ind("a", points_a), ind("b", points_b)], "thresholds": thresholds}


def test_every_grade_must_be_reachable_not_just_the_maximum():
    # totals possible: 0, 10, 50, 60: nothing from 52 to 54, nothing from 20 to 49
    s = two_questions([0, 50], [0, 10], {"H": 55, "A": 52, "B": 5})
    assert errors_of(lambda: rule_admin.validate_scoring(s)) == {
        "threshold_A": "No combination of answers lands in grade A (from this score up to below "
        "H's)."
    }
    s = two_questions([0, 50], [0, 10], {"H": 60, "A": 50, "B": 20})
    assert errors_of(lambda: rule_admin.validate_scoring(s)) == {
        "threshold_B": "No combination of answers lands in grade B (from this score up to below "
        "A's)."
    }
    s = two_questions([5, 50], [5, 10], {"H": 60, "A": 55, "B": 10})
    assert errors_of(lambda: rule_admin.validate_scoring(s)) == {
        "threshold_B": "Every combination scores at least this much, so grade C can never be given."
    }
    ok = rule_admin.validate_scoring(two_questions([0, 50], [0, 10], {"H": 60, "A": 50, "B": 10}))
    assert ok["thresholds"] == {"H": 60, "A": 50, "B": 10}
    assert rule_admin.reachable_totals([[0, 50], [0, 10]]) == {0, 10, 50, 60}


def test_a_saved_scoring_grades_every_grade_and_fills_in_new_keys(session, shop):
    store, manager = shop
    s = copy.deepcopy(DEFAULT_SCORING)
    s["indicators"].append(
        {
            "key": "",
            "label": {"zh": "家人意见", "en": "Family opinion"},
            "options": [
                {"key": "", "label": {"zh": "支持", "en": "In favour"}, "points": 5},
                {"key": "", "label": {"zh": "反对", "en": "Against"}, "points": 0},
            ],
        }
    )
    s["indicators"][0]["options"][0]["points"] = 28
    s["thresholds"] = {"H": 80, "A": 55, "B": 35}
    saved = rule_admin.save_scoring(session, store.id, manager.id, NOW, s)
    assert (saved.version, saved.changed) == (2, True)
    rules = current_rules(session, store.id)
    added = rules.scoring["indicators"][-1]
    assert added["key"] == "q10" and [o["key"] for o in added["options"]] == ["a1", "a2"]
    assert rules.scoring["thresholds"] == {"H": 80, "A": 55, "B": 35}
    assert rules.default_load_cap == 30 and rules.cycles["H"].follow_up_days == 2  # kept
    top = {i["key"]: i["options"][0]["key"] for i in rules.scoring["indicators"]}
    assert score_answers(rules.scoring, top).grade == "H"
    bottom = {i["key"]: i["options"][-1]["key"] for i in rules.scoring["indicators"]}
    assert score_answers(rules.scoring, bottom).grade == "C"
    event = session.scalars(select(AuditEvent).where(AuditEvent.store_id == store.id)).one()
    assert event.action == "scoring.change"
    whats = [c["what"] for c in event.data["changes"]]
    assert whats == ["threshold", "points", "indicator_added"]
    assert event.data["changes"][0] == {"what": "threshold", "grade": "H", "old": 75, "new": 80}
    assert (
        rule_admin.save_scoring(session, store.id, manager.id, NOW, rules.scoring).changed is False
    )
    assert rule_admin.max_total(rules.scoring) == 103


# --- manual reassignment ----------------------------------------------------------------------


@pytest.fixture
def team(factory, shop):
    store, manager = shop
    anna = factory.consultant(store, name="Anna", cap=3)
    ben = factory.consultant(store, name="Ben", cap=3)
    return store, manager, anna, ben


def test_reassign_moves_customers_with_the_reason_and_the_load_seen(factory, session, team):
    store, manager, anna, ben = team
    book = factory.book(anna, 3, "A")
    factory.book(ben, 1, "H")
    moved = rule_admin.reassign(
        session, store.id, manager.id, NOW, [book[0].id, book[1].id], ben.id, "Anna is on leave"
    )
    assert (moved.moved, moved.to_load, moved.to_cap, moved.load_after) == (2, 1, 3, 3)
    assert not moved.over_cap
    rows = session.scalars(
        select(Assignment).where(Assignment.store_id == store.id).order_by(Assignment.id)
    ).all()
    assert [(a.opportunity_id, a.from_owner_id, a.to_owner_id) for a in rows] == [
        (book[0].id, anna.id, ben.id),
        (book[1].id, anna.id, ben.id),
    ]
    # each with the load the consultant had as it came to them
    assert [(a.reason, a.note, a.assigned_by, a.to_load, a.to_cap) for a in rows] == [
        ("manual", "Anna is on leave", manager.id, 1, 3),
        ("manual", "Anna is on leave", manager.id, 2, 3),
    ]
    assert session.get(Opportunity, book[0].id).owner_id == ben.id
    assert session.get(Opportunity, book[0].id).next_follow_up_due is not None
    assert session.get(Opportunity, book[2].id).owner_id == anna.id


def test_reassign_to_the_pool(factory, session, team):
    store, manager, anna, _ben = team
    [opp] = factory.book(anna, 1, "B")
    moved = rule_admin.reassign(session, store.id, manager.id, NOW, [opp.id], None, "Refill it")
    assert moved.to_owner_id is None and moved.load_after is None
    opp = session.get(Opportunity, opp.id)
    assert (opp.owner_id, opp.pool_reason, opp.pool_since is not None) == (None, "returned", True)


def test_past_the_cap_only_when_the_manager_says_so(factory, session, team):
    store, manager, anna, ben = team
    book = factory.book(anna, 3, "A")
    factory.book(ben, 2, "A")
    ids = [o.id for o in book[:2]]
    found = errors_of(
        lambda: rule_admin.reassign(session, store.id, manager.id, NOW, ids, ben.id, "why")
    )
    assert list(found) == ["confirm_over_cap"]
    assert session.scalar(select(func.count()).where(Assignment.store_id == store.id)) == 0
    moved = rule_admin.reassign(
        session, store.id, manager.id, NOW, ids, ben.id, "why", allow_over_cap=True
    )
    assert (moved.load_after, moved.to_cap, moved.over_cap) == (4, 3, True)


def test_reassign_refusals(factory, session, team):
    store, manager, anna, ben = team
    [opp] = factory.book(anna, 1, "A")
    assert errors_of(
        lambda: rule_admin.reassign(session, store.id, manager.id, NOW, [], ben.id, " ")
    ) == {
        "opportunities": "Choose at least one customer.",
        "reason": "Say why these customers change hands.",
    }
    session.get(ConsultantSettings, ben.id).active = False
    session.flush()
    assert errors_of(
        lambda: rule_admin.reassign(session, store.id, manager.id, NOW, [opp.id], ben.id, "x")
    ) == {"to_owner": "Choose an active consultant of this store, or the pool."}
    stranger = factory.consultant(factory.store())
    assert list(
        errors_of(
            lambda: rule_admin.reassign(
                session, store.id, manager.id, NOW, [opp.id], stranger.id, "x"
            )
        )
    ) == ["to_owner"]
    theirs = factory.opportunity(factory.customer(factory.store()), grade="A")
    with pytest.raises(NotFound):
        rule_admin.reassign(session, store.id, manager.id, NOW, [theirs.id], None, "x")
    won = factory.opportunity(factory.customer(store), owner=anna, grade="O")
    with pytest.raises(DomainError, match="closed"):
        rule_admin.reassign(session, store.id, manager.id, NOW, [won.id], None, "x")
    with pytest.raises(DomainError, match="already belong"):
        rule_admin.reassign(session, store.id, manager.id, NOW, [opp.id], anna.id, "x")


def test_reassignable_lists_a_book_or_the_pool_highest_grade_first(factory, session, team):
    store, _manager, anna, _ben = team
    factory.book(anna, 1, "B")
    factory.book(anna, 1, None)
    factory.book(anna, 1, "H")
    factory.book(anna, 1, "C")
    pool = factory.opportunity(factory.customer(store), grade="A", in_pool=True)
    listed = rule_admin.reassignable(session, store.id, anna.id)
    assert [r.grade for r in listed.rows] == ["H", "B", None, "C"] and listed.total == 4
    assert [r.counts_towards_load for r in listed.rows] == [True, True, True, False]
    assert "****" in listed.rows[0].masked_mobile
    in_pool = rule_admin.reassignable(session, store.id, None)
    assert [r.opportunity_id for r in in_pool.rows] == [pool.id]
    assert rule_admin.reassignable(session, store.id, anna.id, limit=2).total == 4


def test_a_new_row_never_takes_the_key_of_a_later_row():
    s = two_questions([0, 50], [0, 10], {"H": 60, "A": 50, "B": 10})
    s["indicators"][0]["key"] = ""
    s["indicators"][1]["key"] = "q1"
    s["indicators"][1]["options"][0]["key"] = ""
    s["indicators"][1]["options"][1]["key"] = "a1"
    clean = rule_admin.validate_scoring(s)
    assert [i["key"] for i in clean["indicators"]] == ["q1_2", "q1"]
    assert [o["key"] for o in clean["indicators"][1]["options"]] == ["a1_2", "a1"]

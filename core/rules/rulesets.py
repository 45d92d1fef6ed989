"""A store's rule settings: load cap, cycle rules, callback retries, needs-analysis scoring.

Rules are versioned: a change writes a new RuleSet; the highest version is current.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.enums import Grade
from core.errors import NotFound
from core.rules.models import CycleRule, RuleSet

DEFAULT_LOAD_CAP = 30
DEFAULT_RETRY_LIMIT = 3
# grade: (follow-up interval in days, maximum cycle in days without a revisit)
DEFAULT_CYCLES: dict[Grade, tuple[int, int]] = {
    Grade.H: (2, 7),
    Grade.A: (4, 15),
    Grade.B: (7, 30),
}


def _opt(key: str, zh: str, en: str, points: int) -> dict[str, Any]:
    return {"key": key, "label": {"zh": zh, "en": en}, "points": points}


def _ind(key: str, zh: str, en: str, options: list[dict[str, Any]]) -> dict[str, Any]:
    return {"key": key, "label": {"zh": zh, "en": en}, "options": options}


# The indicators a store starts with; the maximum total is 100.
DEFAULT_SCORING: dict[str, Any] = {
    "indicators": [
        _ind(
            "timeframe",
            "购车时间",
            "Purchase timeframe",
            [
                _opt("7d", "7天内", "Within 7 days", 30),
                _opt("15d", "15天内", "Within 15 days", 22),
                _opt("30d", "30天内", "Within 30 days", 14),
                _opt("90d", "3个月内", "Within 3 months", 6),
                _opt("unknown", "未定", "Not decided", 0),
            ],
        ),
        _ind(
            "budget",
            "预算明确",
            "Budget clear",
            [_opt("yes", "明确", "Clear", 10), _opt("no", "不明确", "Not clear", 0)],
        ),
        _ind(
            "model",
            "车型确定",
            "Model decided",
            [
                _opt("decided", "已确定", "Decided", 15),
                _opt("shortlist", "2-3款比较中", "Comparing 2-3", 8),
                _opt("open", "未确定", "Not decided", 0),
            ],
        ),
        _ind(
            "test_drive",
            "已试驾",
            "Test drive taken",
            [_opt("yes", "是", "Yes", 10), _opt("no", "否", "No", 0)],
        ),
        _ind(
            "decision_maker",
            "决策人在场",
            "Decision-maker present",
            [_opt("yes", "是", "Yes", 10), _opt("no", "否", "No", 0)],
        ),
        _ind(
            "payment",
            "付款方式",
            "Payment method",
            [
                _opt("cash", "全款", "Full payment", 5),
                _opt("loan", "贷款", "Loan", 5),
                _opt("unknown", "未定", "Not decided", 0),
            ],
        ),
        _ind(
            "trade_in",
            "置换旧车",
            "Trade-in",
            [
                _opt("yes", "有置换", "Trading in", 5),
                _opt("no", "无置换", "No trade-in", 3),
                _opt("unknown", "未定", "Not decided", 0),
            ],
        ),
        _ind(
            "competitors",
            "竞品对比",
            "Competitors compared",
            [
                _opt("done", "已对比完", "Comparison done", 5),
                _opt("ongoing", "正在对比", "Still comparing", 2),
                _opt("none", "未对比", "Not compared", 0),
            ],
        ),
        _ind(
            "visits",
            "到店次数",
            "Number of visits",
            [
                _opt("1", "首次", "First visit", 0),
                _opt("2", "第二次", "Second visit", 5),
                _opt("3+", "三次及以上", "Three or more", 10),
            ],
        ),
    ],
    # Minimum score for each grade; below B is C.
    "thresholds": {"H": 75, "A": 55, "B": 35},
}


@dataclass(frozen=True)
class CycleSetting:
    grade: str
    follow_up_days: int
    cycle_days: int


@dataclass(frozen=True)
class Rules:
    rule_set_id: int
    version: int
    default_load_cap: int
    callback_retry_limit: int
    cycles: dict[str, CycleSetting]
    scoring: dict[str, Any]


def create_default_rules(session: Session, store_id: int, created_by: int | None = None) -> RuleSet:
    rule_set = RuleSet(
        store_id=store_id,
        version=1,
        created_by=created_by,
        default_load_cap=DEFAULT_LOAD_CAP,
        callback_retry_limit=DEFAULT_RETRY_LIMIT,
        scoring=DEFAULT_SCORING,
        cycle_rules=[
            CycleRule(grade=grade.value, follow_up_days=f, cycle_days=c)
            for grade, (f, c) in DEFAULT_CYCLES.items()
        ],
    )
    session.add(rule_set)
    session.flush()
    return rule_set


def current_rules(session: Session, store_id: int) -> Rules:
    """The store's rules in force: the highest version (one statement)."""
    latest = select(func.max(RuleSet.version)).where(RuleSet.store_id == store_id).scalar_subquery()
    rows = session.execute(
        select(
            RuleSet.id,
            RuleSet.version,
            RuleSet.default_load_cap,
            RuleSet.callback_retry_limit,
            RuleSet.scoring,
            CycleRule.grade,
            CycleRule.follow_up_days,
            CycleRule.cycle_days,
        )
        .outerjoin(CycleRule, CycleRule.rule_set_id == RuleSet.id)
        .where(RuleSet.store_id == store_id, RuleSet.version == latest)
    ).all()
    if not rows:
        raise NotFound("rules")
    first = rows[0]
    return Rules(
        rule_set_id=first.id,
        version=first.version,
        default_load_cap=first.default_load_cap,
        callback_retry_limit=first.callback_retry_limit,
        cycles={
            r.grade: CycleSetting(r.grade, r.follow_up_days, r.cycle_days)
            for r in rows
            if r.grade is not None
        },
        scoring=first.scoring,
    )

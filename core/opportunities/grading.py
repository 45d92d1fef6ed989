"""Needs-analysis scoring: answers to the store's indicators give a score and a grade."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.enums import Grade
from core.errors import ValidationError
from core.i18n import N_


@dataclass(frozen=True)
class ScoredAnswer:
    indicator: str
    option: str
    points: int


@dataclass(frozen=True)
class GradeResult:
    score: int
    grade: str
    breakdown: tuple[ScoredAnswer, ...]


def grade_for_score(score: int, thresholds: dict[str, int]) -> str:
    """H, A or B when the score reaches that grade's threshold (checked from H down), else C."""
    for grade in (Grade.H, Grade.A, Grade.B):
        if score >= thresholds[grade]:
            return grade.value
    return Grade.C.value


def score_answers(scoring: dict[str, Any], answers: dict[str, str]) -> GradeResult:
    """Score one answer per indicator. Every indicator must be answered with one of its options."""
    errors: dict[str, str] = {}
    breakdown: list[ScoredAnswer] = []
    for indicator in scoring["indicators"]:
        key = indicator["key"]
        chosen = answers.get(key)
        option = next((o for o in indicator["options"] if o["key"] == chosen), None)
        if option is None:
            errors[key] = N_("Choose one answer.")
            continue
        breakdown.append(ScoredAnswer(key, option["key"], int(option["points"])))
    if errors:
        raise ValidationError(errors)
    score = sum(a.points for a in breakdown)
    return GradeResult(score, grade_for_score(score, scoring["thresholds"]), tuple(breakdown))


def max_score(scoring: dict[str, Any]) -> int:
    return sum(max(int(o["points"]) for o in i["options"]) for i in scoring["indicators"])

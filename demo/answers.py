"""What a customer answers in the needs analysis: answers the store's scoring turns into the
grade the consultant has in mind (core/opportunities/grading.py scores them)."""

from __future__ import annotations

import random
from typing import Any

from core.opportunities.grading import score_answers

_LEAN = {"H": 0.0, "A": 0.35, "B": 0.6, "C": 0.85}  # towards the worst options for cold grades


def needs_answers(
    rng: random.Random, scoring: dict[str, Any], target: str, visits: int
) -> dict[str, str]:
    """One answer per indicator whose score gives ``target`` (H, A, B or C)."""
    visit_option = "1" if visits <= 1 else "2" if visits == 2 else "3+"
    for _ in range(300):
        answers = {"visits": visit_option}
        for indicator in scoring["indicators"]:
            if indicator["key"] == "visits":
                continue
            options = sorted(indicator["options"], key=lambda o: -int(o["points"]))
            index = min(len(options) - 1, int(rng.random() ** 1.5 * len(options) + _LEAN[target]))
            index = index if rng.random() < 0.7 else rng.randrange(len(options))
            answers[indicator["key"]] = options[index]["key"]
        if score_answers(scoring, answers).grade == target:
            return answers
    return _greedy(scoring, target, visit_option)


def _greedy(scoring: dict[str, Any], target: str, visit_option: str) -> dict[str, str]:
    """Raise answers one by one while staying under the next grade's threshold."""
    thresholds = scoring["thresholds"]
    ceiling = {"H": 10_000, "A": thresholds["H"], "B": thresholds["A"], "C": thresholds["B"]}
    answers = {
        i["key"]: min(i["options"], key=lambda o: int(o["points"]))["key"]
        for i in scoring["indicators"]
    }
    answers["visits"] = visit_option
    for indicator in scoring["indicators"]:
        if indicator["key"] == "visits":
            continue
        for option in sorted(indicator["options"], key=lambda o: -int(o["points"])):
            trial = {**answers, indicator["key"]: option["key"]}
            if score_answers(scoring, trial).score < ceiling[target]:
                answers = trial
                break
    return answers

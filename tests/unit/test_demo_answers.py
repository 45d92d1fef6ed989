"""The demo's needs-analysis answers score the grade the consultant has in mind."""

import random

import pytest

from core.opportunities.grading import score_answers
from core.rules.rulesets import DEFAULT_SCORING
from demo.answers import needs_answers


@pytest.mark.parametrize("target", ["H", "A", "B", "C"])
@pytest.mark.parametrize("visits", [1, 2, 5])
def test_the_answers_give_the_grade(target: str, visits: int) -> None:
    rng = random.Random(7)
    for _ in range(20):
        answers = needs_answers(rng, DEFAULT_SCORING, target, visits)
        assert score_answers(DEFAULT_SCORING, answers).grade == target
        assert answers["visits"] == {1: "1", 2: "2", 5: "3+"}[visits]

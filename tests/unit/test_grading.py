import pytest

from core.errors import ValidationError
from core.opportunities.grading import grade_for_score, max_score, score_answers
from core.rules.rulesets import DEFAULT_SCORING

THRESHOLDS = {"H": 75, "A": 55, "B": 35}


@pytest.mark.parametrize(
    ("score", "grade"),
    [(100, "H"), (75, "H"), (74, "A"), (55, "A"), (54, "B"), (35, "B"), (34, "C"), (0, "C")],
)
def test_grade_thresholds_edges(score, grade):
    assert grade_for_score(score, THRESHOLDS) == grade


def _best_answers():
    return {
        i["key"]: max(i["options"], key=lambda o: o["points"])["key"]
        for i in DEFAULT_SCORING["indicators"]
    }


def test_default_scoring_tops_out_at_100_and_grades_h():
    assert max_score(DEFAULT_SCORING) == 100
    result = score_answers(DEFAULT_SCORING, _best_answers())
    assert (result.score, result.grade) == (100, "H")
    assert {a.indicator for a in result.breakdown} == {
        i["key"] for i in DEFAULT_SCORING["indicators"]
    }


def test_score_is_the_sum_of_the_chosen_options():
    answers = {
        "timeframe": "15d",  # 22
        "budget": "no",  # 0
        "model": "decided",  # 15
        "test_drive": "no",  # 0
        "decision_maker": "yes",  # 10
        "payment": "unknown",  # 0
        "trade_in": "no",  # 3
        "competitors": "ongoing",  # 2
        "visits": "1",  # 0
    }
    result = score_answers(DEFAULT_SCORING, answers)
    assert result.score == 52
    assert result.grade == "B"
    assert [a.points for a in result.breakdown] == [22, 0, 15, 0, 10, 0, 3, 2, 0]


def test_every_indicator_must_be_answered_with_a_known_option():
    answers = _best_answers()
    del answers["budget"]
    answers["timeframe"] = "tomorrow"
    with pytest.raises(ValidationError) as info:
        score_answers(DEFAULT_SCORING, answers)
    assert set(info.value.errors) == {"budget", "timeframe"}

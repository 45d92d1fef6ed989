import pytest

from core.errors import ValidationError
from core.phone import mask_mobile, normalise_mobile, scrub_mobiles


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+86-19912345678", "19912345678"),
        ("0086 15912345678", "15912345678"),
        ("8613800138000", "13800138000"),
        (" 17712345678 ", "17712345678"),
    ],
)
def test_accepts_and_normalises_chinese_mobiles(raw, expected):
    assert normalise_mobile(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "12800138000", "1380013800", "138001380001", "10800138000", "+1 415 555 0100", "abc"],
)
def test_rejects_what_is_not_a_chinese_mobile(raw):
    with pytest.raises(ValidationError) as info:
        normalise_mobile(raw, field="phone")
    assert set(info.value.errors) == {"phone"}


def test_mask_keeps_prefix_and_last_four():
    assert mask_mobile("13800138000") == "138****8000"
    assert mask_mobile("123") == "***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13800138000", "138****8000"),
        ("mobile=13800138000&x=1", "mobile=138****8000&x=1"),
        ("call 138 0013 8000 now", "call 138****8000 now"),
        ("138-0013-8000", "138****8000"),
        ("+86 138 0013 8000", "138****8000"),
        ("0086 13800138000", "138****8000"),
        ("(5, '13800138000', '王')", "(5, '138****8000', '王')"),
        (
            "Failing row contains (7, null, 19912345678, x).",
            "Failing row contains (7, null, 199****5678, x).",
        ),
        # Not mobile numbers: left alone.
        ("1380013800012", "1380013800012"),
        ("12800138000", "12800138000"),
        ("2026-01-02 03:04:05.123456 id=138", "2026-01-02 03:04:05.123456 id=138"),
        ("duration_ms=12.5 status=200", "duration_ms=12.5 status=200"),
    ],
)
def test_scrub_masks_every_mobile_number_in_free_text(text, expected):
    assert scrub_mobiles(text) == expected

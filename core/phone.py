"""Chinese mobile numbers: validation, normalisation, masking."""

from __future__ import annotations

import re

from core.errors import ValidationError
from core.i18n import N_

_SEPARATORS = re.compile(r"[\s\-()]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")  # ASCII digits: \d would take '１' or '١' too


def normalise_mobile(raw: str, field: str = "mobile") -> str:
    """Return the 11-digit form of a Chinese mobile number or raise ValidationError.

    Accepts spaces, dashes and a +86 / 0086 / 86 prefix: '+86 138-0013-8000' -> '13800138000'.
    """
    digits = _SEPARATORS.sub("", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MOBILE.fullmatch(digits):
        raise ValidationError(
            {field: N_("Enter an 11-digit Chinese mobile number starting 13-19.")}
        )
    return digits


def mask_mobile(mobile: str) -> str:
    """'13800138000' -> '138****8000'."""
    if len(mobile) != 11:
        return "*" * len(mobile)
    return f"{mobile[:3]}****{mobile[7:]}"


# A mobile number anywhere in free text (a log line, a traceback): 11 digits starting 13-19,
# maybe written in groups ("138 0013 8000", "138-0013-8000") or after +86 / 0086 / 86.
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])(?:(?:\+|00)?86[\s-]?)?1[3-9](?:[\s-]?[0-9]){9}(?![0-9])")


def scrub_mobiles(text: str) -> str:
    """``text`` with each mobile number in it masked: 'call 138 0013 8000' -> 'call 138****8000'."""

    def masked(match: re.Match[str]) -> str:
        digits = re.sub(r"[^0-9]", "", match.group(0))[-11:]
        return mask_mobile(digits)

    return _MOBILE_IN_TEXT.sub(masked, text)

"""What every screen's form shares: syntax and conversion only, the domain's rules stay in core.

A screen's form (console/forms.py, kiosk/forms.py) turns what was posted into typed values:
whole numbers written with the digits 0-9 only (never '²' or '١', which ``str.isdigit`` and
``int`` take), ISO dates and times, choices, stripped text of a bounded length. Each field keeps
what was typed for the page shown again, and its first message (translated) for beside it.

CSRFProtect checks every POST app-wide (and htmx's header), so the forms do not check the token
a second time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, time
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.validators import StopValidation
from wtforms.widgets import TextInput

from settings import LANGUAGES
from web.inputs import CONTROL, INT_MAX

_WHOLE = re.compile(r"[+-]?[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(:[0-9]{2})?")
TOO_LONG = _l("This text is too long.")
INVALID = _l("This value cannot be used. Check it and try again.")
CONTROL_CHARACTERS = _l("This text holds characters that cannot be saved. Type it again.")


def is_ascii_int(text: str) -> bool:
    """``text`` is a whole number written with the digits 0-9 (no sign)."""
    return bool(re.fullmatch(r"[0-9]+", text))


def page_number(text: str | None, last: int = 10_000) -> int:
    """A page number from a query string: 1 to ``last``; anything else is the first page."""
    value = (text or "").strip()
    if not is_ascii_int(value) or len(value) > len(str(last)):
        return 1
    return max(1, min(int(value), last))


def ascii_int(text: str | None) -> int | None:
    """The whole number ``text`` holds (0-9 only), or None."""
    value = (text or "").strip()
    return int(value) if _WHOLE.fullmatch(value) else None


class ScreenForm(FlaskForm):
    """A screen's form: syntax and conversion; ``typed()`` and ``messages()`` for the page."""

    class Meta:
        csrf = False  # CSRFProtect (app-wide) has checked the token already

    def typed(self) -> dict[str, Any]:
        """What was typed in each field, as the page shows it again."""
        return {f.name: f.typed() if isinstance(f, Typed) else f._value() for f in self}

    def messages(self) -> dict[str, str]:
        """The first message of each field that has one, translated, in the form's order."""
        return {f.name: gettext(str(f.errors[0])) for f in self if f.errors}


class Typed(Field):
    """A field that converts the posted text, and refuses with its own message text that does
    not convert. ``required``: empty is refused too (else it is None)."""

    widget = TextInput()

    def __init__(
        self,
        label: str | None = None,
        validators: list[Any] | None = None,
        *,
        message: str = "",
        required: bool = False,
        max_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.message = message or INVALID  # a field without its own message still refuses
        self.required = required
        self.max_length = max_length

    def typed(self) -> str:
        """What was posted (cut at ``max_length`` characters, control characters left out),
        or what the form was given."""
        if self.raw_data:
            text = CONTROL.sub("", str(self.raw_data[0]))
            return text[: self.max_length] if self.max_length else text
        return "" if self.data is None else self.show(self.data)

    def _value(self) -> str:
        return self.typed()

    def show(self, value: Any) -> str:
        return str(value)

    def convert(self, text: str) -> Any:
        """The value of what was typed (stripped, not empty); each kind reads its own."""
        return text

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if not valuelist:
            return
        text = str(valuelist[0]).strip()
        if CONTROL.search(text):
            raise ValueError(CONTROL_CHARACTERS)
        if text:
            self.data = self.convert(text)  # a ValueError is this field's message

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:  # already in errors: the message of convert()
            raise StopValidation()
        if self.required and self.data is None:
            raise StopValidation(self.message)


class WholeNumber(Typed):
    """A whole number in [``low``, ``high``], digits 0-9 only; ``message`` otherwise."""

    def __init__(
        self,
        label: str | None = None,
        validators: list[Any] | None = None,
        *,
        low: int | None = None,
        high: int | None = None,
        ignore: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.low, self.high, self.ignore = low, high, ignore

    def convert(self, text: str) -> int:
        for char in self.ignore:  # thousands separators, say
            text = text.replace(char, "")
        if not _WHOLE.fullmatch(text):
            raise ValueError(self.message)
        value = int(text)
        high = INT_MAX if self.high is None else self.high  # what an integer column holds
        low = -INT_MAX if self.low is None else self.low
        if not low <= value <= high:
            raise ValueError(self.message)
        return value


class IsoDate(Typed):
    """A date as a date input posts it (YYYY-MM-DD, digits 0-9)."""

    def convert(self, text: str) -> date:
        if not _DATE.fullmatch(text):
            raise ValueError(self.message)
        return date.fromisoformat(text)  # ValueError for 2026-02-30

    def show(self, value: Any) -> str:
        return value.isoformat() if isinstance(value, date) else str(value)


class IsoTime(Typed):
    """A time as a time input posts it (HH:MM or HH:MM:SS, digits 0-9)."""

    def convert(self, text: str) -> time:
        if not _TIME.fullmatch(text):
            raise ValueError(self.message)
        return time.fromisoformat(text)

    def show(self, value: Any) -> str:
        return value.strftime("%H:%M") if isinstance(value, time) else str(value)


class Choice(Typed):
    """One of ``choices`` (the values posted; a callable is asked when the form validates), or
    None when empty and not required. ``none``: a value that means "none of them" (None)."""

    def __init__(
        self,
        label: str | None = None,
        validators: list[Any] | None = None,
        *,
        choices: Iterable[str] | Callable[[], Iterable[str]] = (),
        none: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.choices = choices
        self.none = none

    def convert(self, text: str) -> str | None:
        return None if text == self.none else text

    def pre_validate(self, form: Any) -> None:
        super().pre_validate(form)
        if self.data is not None:
            allowed = self.choices() if callable(self.choices) else self.choices
            if self.data not in {str(c) for c in allowed}:
                raise StopValidation(self.message)


class YesNo(Typed):
    """'yes' -> True, 'no' -> False, empty -> None."""

    def convert(self, text: str) -> bool:
        if text not in ("yes", "no"):
            raise ValueError(self.message)
        return text == "yes"

    def show(self, value: Any) -> str:
        return "yes" if value else "no"


class Text(Typed):
    """Text, stripped; empty is None. At most ``max_length`` characters (``message`` beyond)."""

    def pre_validate(self, form: Any) -> None:
        super().pre_validate(form)
        limit = self.max_length
        if limit is not None and self.raw_data and len(str(self.raw_data[0]).strip()) > limit:
            raise StopValidation(TOO_LONG if self.message is INVALID else self.message)

    def typed(self) -> str:
        # what was typed, whole: the message says it is too long, the user shortens it
        if self.raw_data:
            return CONTROL.sub("", str(self.raw_data[0]))
        return "" if self.data is None else str(self.data)


class Flag(Typed):
    """A checkbox: True when posted with ``value`` ('on' by default), else False."""

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        self.on = kwargs.pop("value", "on")
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = bool(valuelist) and str(valuelist[0]) == self.on

    def typed(self) -> str:
        return self.on if self.data else ""


class Secret(Typed):
    """A password: taken as typed (not stripped), never shown again."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = str(valuelist[0]) if valuelist else ""

    def typed(self) -> str:
        return ""


class ModelId(Typed):
    """The id of a record chosen from a list (digits 0-9), or None for ``none`` or empty."""

    def __init__(self, *args: Any, none: str = "none", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.none = none

    def convert(self, text: str) -> int | None:
        if text == self.none:
            return None
        if not is_ascii_int(text) or int(text) > INT_MAX:
            raise ValueError(self.message)
        return int(text)


class LanguageForm(ScreenForm):
    """The language switch: a language of the interface, and the page to go back to."""

    lang = Choice(choices=LANGUAGES)
    next = Text()


def field_error(form: ScreenForm, name: str, message: str) -> None:
    """Add ``message`` to the field ``name`` (a rule the form checks across fields)."""
    form[name].errors = [*form[name].errors, message]


__all__ = [
    "Choice",
    "Flag",
    "IsoDate",
    "IsoTime",
    "LanguageForm",
    "ModelId",
    "ScreenForm",
    "Secret",
    "Text",
    "WholeNumber",
    "YesNo",
    "ascii_int",
    "field_error",
    "is_ascii_int",
]

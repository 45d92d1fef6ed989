"""The console's forms, one per screen: syntax and conversion only (web.forms).

Which values are allowed beyond their shape (a car model of the store, an active consultant, a
date not in the past, the answers a callback needs) is core's, with its messages; a form reads
what was posted into ints, dates, times, booleans and stripped text, and says what it could not
read next to the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import Field

from core.callbacks.service import CallbackForm
from core.enums import ASSESSABLE, Presence
from core.i18n import N_
from core.rules.admin import GRADES
from web.forms import (
    Choice,
    Flag,
    IsoDate,
    IsoTime,
    ModelId,
    ScreenForm,
    Secret,
    Text,
    WholeNumber,
    YesNo,
    ascii_int,
    is_ascii_int,
)
from web.inputs import INT_MAX

WHOLE = N_("Enter a whole number.")


class PeriodForm(ScreenForm):
    """The analytics' period, typed as YYYY-MM-DD (the query's ``from`` and ``to``)."""

    period_from = IsoDate(name="from", message=_l("Enter a date as YYYY-MM-DD."), max_length=20)
    period_to = IsoDate(name="to", message=_l("Enter a date as YYYY-MM-DD."), max_length=20)


class LoginForm(ScreenForm):
    username = Text()
    password = Secret()


# --- reception ---------------------------------------------------------------------------------


class ReceptionCheckInForm(ScreenForm):
    """The desk's check-in; in the order of the form's error summary."""

    mobile = Text()
    surname = Text()
    title = Choice(choices=("mr", "ms"), message=N_("Choose Mr or Ms."))
    car_model = ModelId(message=N_("Choose a car model from the list."))
    purpose = Text()  # core checks the purpose (the desk's message, see reception.DESK_MESSAGES)
    party_size = WholeNumber(message=_l("Enter how many people came (1 to 20)."))
    consent = Flag(value="yes")
    key = Text()  # the idempotency key: its first 64 characters


class ReassignVisitForm(ScreenForm):
    consultant = ModelId(
        none="", required=True, message=_l("Choose the consultant who receives the visitor.")
    )
    note = Text()


class ReasonForm(ScreenForm):
    """A written reason: lifting a customer's decline or their do-not-contact."""

    reason = Text()


class PresenceForm(ScreenForm):
    presence = Choice(choices=[p.value for p in Presence])


# --- one opportunity ---------------------------------------------------------------------------


class OrderForm(ScreenForm):
    car_model = ModelId(none="", message=N_("Choose a car model from the list."))
    deposit = WholeNumber(ignore=",", message=N_("Enter the deposit in yuan, a whole number."))
    note = Text()


class FollowUpForm(ScreenForm):
    kind = Text()
    outcome = Text()
    next_follow_up_on = IsoDate(message=_l("Enter a date, or leave the field empty."))
    # an unreadable appointment is core's "choose the date and time" (see the view)
    invitation_date = IsoDate()
    invitation_time = IsoTime()


class DefeatForm(ScreenForm):
    reason = Text()
    competitor_brand = Text()
    note = Text()


class AssessForm(ScreenForm):
    """The needs analysis: one answer per indicator of the store's scoring (``answer-KEY``, see
    :func:`assess_form`), and an override with its reason."""

    override_grade = Choice(
        choices=[g.value for g in ASSESSABLE], message=N_("Choose H, A, B or C.")
    )
    override_reason = Text()

    def answers(self) -> dict[str, str]:
        return {
            name.removeprefix("answer-"): field.data or ""
            for name, field in self._fields.items()
            if name.startswith("answer-")
        }


def assess_form(indicator_keys: Iterable[str]) -> AssessForm:
    """The analysis form for these indicators (the store's scoring decides which there are)."""

    class Form(AssessForm):
        pass

    for key in indicator_keys:
        setattr(Form, f"answer-{key}", Text())
    return Form()


# --- callbacks ---------------------------------------------------------------------------------

YES_NO = N_("Choose yes or no.")


class CallbackRecordForm(ScreenForm):
    """The call and its questionnaire. The dates and the time are read leniently: one that
    cannot be read is core's "choose a day" (see the view)."""

    call_result = Text()
    remembers_consultant = YesNo(message=YES_NO)
    satisfaction = WholeNumber(
        message=N_("Choose 1 to 5, or leave it if the customer did not say."), low=1, high=5
    )
    received_follow_up = YesNo(message=YES_NO)
    has_bought = YesNo(message=YES_NO)
    bought_reason = Text()
    bought_brand = Text()
    bought_brand_other = Text()
    would_revisit = YesNo(message=YES_NO)
    same_consultant_ok = YesNo(message=YES_NO)
    concerns = Text()
    other_brands = Text()
    outcome = Text()
    invite_date = IsoDate()
    invite_time = IsoTime()
    call_again_on = IsoDate()
    note = Text()

    LENIENT = ("invite_date", "invite_time", "call_again_on")

    def posted(self) -> CallbackForm:
        """The typed values core records (empty text: not answered)."""
        return CallbackForm(
            **{
                name: (self[name].data if self[name].data is not None else default)
                for name, default in CallbackForm.defaults().items()
            }
        )

    def syntax_errors(self) -> dict[str, str]:
        return {k: v for k, v in self.messages().items() if k not in self.LENIENT}


# --- rules -------------------------------------------------------------------------------------


class IdList(Field):
    """Every id posted under the field's name (ticked boxes), digits 0-9 only; others are
    left out (a box the page never showed)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = [int(v) for v in valuelist if is_ascii_int(str(v)) and int(v) <= INT_MAX]

    def _value(self) -> str:
        return ""


class ReassignForm(ScreenForm):
    """Moving customers by hand. ``from``: whose customers are listed (a consultant's id, or
    empty for the pool); ``to``: a consultant's id or "pool"."""

    source = ModelId(name="from", none="")
    to = Text()
    reason = Text()
    opportunity = IdList()
    confirm_over_cap = Flag()

    def target(self) -> int | str | None:
        """A consultant's id, None for the pool, "" when nobody was chosen."""
        to = self.to.data or ""
        if is_ascii_int(to):
            return int(to)
        return None if to == "pool" else ""


class DispatchForm(ScreenForm):
    """The caps, retries and cycles (see :func:`dispatch_form` for the consultants' rows)."""

    default_load_cap = WholeNumber(message=WHOLE)
    retry_limit = WholeNumber(message=WHOLE)
    previewed = Text()
    action = Text()

    def consultants(self, ids: Iterable[int]) -> dict[int, tuple[int | None, bool]]:
        return {i: (self[f"cap-{i}"].data, bool(self[f"active-{i}"].data)) for i in ids}

    def cycles(self) -> dict[str, tuple[int | None, int | None]]:
        return {g: (self[f"follow_up_{g}"].data, self[f"cycle_{g}"].data) for g in GRADES}


for _grade in GRADES:
    setattr(DispatchForm, f"follow_up_{_grade}", WholeNumber(message=WHOLE))
    setattr(DispatchForm, f"cycle_{_grade}", WholeNumber(message=WHOLE))


def dispatch_form(consultant_ids: Iterable[int]) -> DispatchForm:
    """The caps form with a row (own cap, active) for each of these consultants."""

    class Form(DispatchForm):
        pass

    for user_id in consultant_ids:
        setattr(Form, f"cap-{user_id}", WholeNumber(message=WHOLE))
        setattr(Form, f"active-{user_id}", Flag())
    return Form()


def read_scoring(
    formdata: Mapping[str, str], max_indicators: int, max_options: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The scoring editor's rows: as typed (for the page), with the points and thresholds read
    into integers (for core; None where nothing or something else was typed), and the message
    of each number that could not be read."""
    f = formdata
    syntax: dict[str, str] = {}

    def count(name: str, limit: int) -> int:
        raw = f.get(name, "0")
        return min(int(raw), limit) if is_ascii_int(raw) else 0

    def number(name: str) -> tuple[str, int | None]:
        text = f.get(name, "").strip()
        value = ascii_int(text)
        if value is None and text:
            syntax[name] = str(_l(WHOLE))
        return text, value

    shown: list[dict[str, Any]] = []
    typed: list[dict[str, Any]] = []
    for i in range(count("ind_count", max_indicators)):
        p = f"ind-{i}"
        shown_options, typed_options = [], []
        for j in range(count(f"{p}-opt_count", max_options)):
            q = f"{p}-opt-{j}"
            text, value = number(f"{q}-points")
            option = {
                "key": f.get(f"{q}-key", "").strip(),
                "label": {"zh": f.get(f"{q}-zh", "").strip(), "en": f.get(f"{q}-en", "").strip()},
            }
            shown_options.append({**option, "points": text})
            typed_options.append({**option, "points": value})
        indicator = {
            "key": f.get(f"{p}-key", "").strip(),
            "label": {"zh": f.get(f"{p}-zh", "").strip(), "en": f.get(f"{p}-en", "").strip()},
        }
        shown.append({**indicator, "options": shown_options})
        typed.append({**indicator, "options": typed_options})
    thresholds = {g: number(f"threshold_{g}") for g in GRADES}
    return (
        {"indicators": shown, "thresholds": {g: t for g, (t, _v) in thresholds.items()}},
        {"indicators": typed, "thresholds": {g: v for g, (_t, v) in thresholds.items()}},
        syntax,
    )


class PiplForm(ScreenForm):
    """A customer's request under the personal information law, served at the desk: the
    request in the customer's words, and for a correction the values as they should be."""

    request = Text()
    surname = Text()
    title = Text()
    mobile = Text()
    confirm = Flag()

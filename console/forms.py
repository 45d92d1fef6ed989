"""The console's forms, one per screen: syntax and conversion only (web.forms).

Which values are allowed beyond their shape (a car model of the store, an active consultant, a
date not in the past, the answers a callback needs) is core's, with its messages; a form reads
what was posted into ints, dates, times, booleans and stripped text, and says what it could not
read next to the field.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l

from core.callbacks.service import CallbackForm
from core.enums import ASSESSABLE, Presence
from core.i18n import N_
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
)

WHOLE = N_("Enter a whole number.")


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


class ReassignForm(ScreenForm):
    """Moving customers by hand. ``to``: a consultant's id or "pool"."""

    to = Text()
    reason = Text()
    confirm_over_cap = Flag()

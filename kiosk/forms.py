"""The kiosk's forms, one per step: what the visitor typed or tapped, converted (web.forms).
The rules of a check-in (a valid mobile, a surname, the store's car models, a party of 1 to
20) and their messages are core's (core.checkin.service); the forms only read the input."""

from __future__ import annotations

from core.enums import VisitPurpose
from core.i18n import N_
from web.forms import Choice, Flag, ModelId, ScreenForm, Secret, Text, WholeNumber

MOBILE_TYPED_MAX = 40  # what is kept of a longer input (the number itself is core's rule)
SURNAME_TYPED_MAX = 100


class MobileForm(ScreenForm):
    mobile = Text(
        max_length=MOBILE_TYPED_MAX,
        message=N_("Enter an 11-digit Chinese mobile number starting 13-19."),
    )


class ConfirmForm(ScreenForm):
    answer = Choice(choices=("yes", "no"))


class NameForm(ScreenForm):
    surname = Text()
    title = Choice(choices=("mr", "ms"), required=True, message=N_("Choose Mr or Ms."))


class InterestForm(ScreenForm):
    car_model = ModelId(message=N_("Choose a car model from the list."))
    purpose = Choice(
        choices=[p.value for p in VisitPurpose],
        required=True,
        message=N_("Choose why you came today."),
    )
    party_size = WholeNumber(required=True, message=N_("Choose how many of you came (1 to 20)."))


class ConsentForm(ScreenForm):
    consent = Flag(value="yes")


class EnrolForm(ScreenForm):
    username = Text()
    password = Secret()
    name = Text()

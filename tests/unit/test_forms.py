"""The screens' forms read what was posted into typed values: syntax and conversion only."""

from __future__ import annotations

from datetime import date, time

import pytest
from werkzeug.datastructures import MultiDict

from console.forms import (
    CallbackRecordForm,
    FollowUpForm,
    OrderForm,
    ReassignVisitForm,
    ReceptionCheckInForm,
    assess_form,
)
from kiosk.forms import ConsentForm, InterestForm, NameForm
from web.forms import LanguageForm, ascii_int, is_ascii_int

UNICODE_DIGITS = ["²", "١", "３", "٣", "߁", "1²", "१०"]


@pytest.fixture
def app_ctx(app):
    with app.test_request_context("/", method="POST"):
        yield


def posted(form_class, **data):  # type: ignore[no-untyped-def]
    form = form_class(formdata=MultiDict(data))
    valid = form.validate()
    return form, valid


def test_ascii_int_takes_the_digits_0_to_9_only():
    assert ascii_int("42") == 42 and ascii_int(" 7 ") == 7 and ascii_int("-3") == -3
    for text in [*UNICODE_DIGITS, "", "4.5", "1e3", "twelve", None]:
        assert ascii_int(text) is None, text
    assert is_ascii_int("0012") and not is_ascii_int("-1") and not is_ascii_int("١")


@pytest.mark.parametrize("digits", UNICODE_DIGITS)
def test_unicode_digits_are_refused_where_a_number_is_asked(app_ctx, digits):
    form, valid = posted(InterestForm, car_model="none", purpose="look", party_size=digits)
    assert not valid and form.party_size.data is None
    assert form.messages() == {"party_size": "请选择到店人数（1 至 20 人）。"}
    assert form.typed()["party_size"] == digits  # kept as typed, for the page shown again
    form, valid = posted(InterestForm, car_model=digits, purpose="look", party_size="2")
    assert not valid and set(form.messages()) == {"car_model"}
    form, valid = posted(OrderForm, deposit=digits)
    assert not valid and set(form.messages()) == {"deposit"}
    form, valid = posted(ReassignVisitForm, consultant=digits)
    assert not valid and set(form.messages()) == {"consultant"}
    form, valid = posted(CallbackRecordForm, satisfaction=digits)
    assert not valid and set(form.messages()) == {"satisfaction"}


def test_the_kiosk_forms_convert(app_ctx):
    form, valid = posted(InterestForm, car_model="12", purpose="test_drive", party_size=" 3 ")
    assert valid
    assert (form.car_model.data, form.purpose.data, form.party_size.data) == (12, "test_drive", 3)
    form, valid = posted(InterestForm, car_model="none", purpose="look", party_size="1")
    assert valid and form.car_model.data is None
    form, valid = posted(InterestForm, car_model="none", purpose="shopping", party_size="")
    assert not valid and set(form.messages()) == {"purpose", "party_size"}
    form, valid = posted(NameForm, surname="  李 ", title="ms")
    assert valid and (form.surname.data, form.title.data) == ("李", "ms")
    form, valid = posted(NameForm, surname="李", title="dr")
    assert not valid and set(form.messages()) == {"title"}
    assert posted(ConsentForm, consent="yes")[0].consent.data is True
    assert posted(ConsentForm)[0].consent.data is False


def test_the_consultant_forms_convert(app_ctx):
    form, valid = posted(OrderForm, car_model="", deposit="5,000", note=" 周六提车 ")
    assert valid and (form.car_model.data, form.deposit.data, form.note.data) == (
        None,
        5000,
        "周六提车",
    )
    form, valid = posted(OrderForm, deposit="lots")
    assert not valid and form.messages() == {"deposit": "请输入定金金额（元，整数）。"}
    form, valid = posted(
        FollowUpForm,
        kind="invitation",
        next_follow_up_on="2026-12-03",
        invitation_date="2026-12-02",
        invitation_time="10:30",
    )
    assert valid and form.next_follow_up_on.data == date(2026, 12, 3)
    assert (form.invitation_date.data, form.invitation_time.data) == (
        date(2026, 12, 2),
        time(10, 30),
    )
    for bad in ("2026-02-30", "２０２６-12-03", "03/12/2026", "tomorrow"):
        form, valid = posted(FollowUpForm, kind="call", next_follow_up_on=bad)
        assert not valid and set(form.messages()) == {"next_follow_up_on"}, bad
        assert form.typed()["next_follow_up_on"] == bad
    form, valid = posted(FollowUpForm, kind="call", invitation_time="１０:30")
    assert form.invitation_time.data is None
    answers = assess_form(["budget", "timing"])
    answers.process(MultiDict({"answer-budget": "high", "override_grade": "A"}))
    assert answers.answers() == {"budget": "high", "timing": ""}
    assert answers.validate() and answers.override_grade.data == "A"
    answers.process(MultiDict({"override_grade": "O"}))
    assert not answers.validate() and set(answers.messages()) == {"override_grade"}


def test_the_callback_form_reads_the_answers(app_ctx):
    form, valid = posted(
        CallbackRecordForm,
        call_result="reached",
        remembers_consultant="yes",
        has_bought="no",
        satisfaction="4",
        outcome="call_again",
        call_again_on="2026-12-10",
        note=" 下周再联系 ",
    )
    assert valid
    read = form.posted()
    assert (read.remembers_consultant, read.has_bought, read.received_follow_up) == (
        True,
        False,
        None,
    )
    assert (read.satisfaction, read.call_again_on, read.note) == (
        4,
        date(2026, 12, 10),
        "下周再联系",
    )
    assert read.bought_reason == "" and read.invite_time is None
    form, valid = posted(CallbackRecordForm, would_revisit="maybe", satisfaction="9")
    assert not valid and set(form.syntax_errors()) == {"would_revisit", "satisfaction"}
    form, valid = posted(CallbackRecordForm, call_again_on="soon")
    assert form.syntax_errors() == {} and form.posted().call_again_on is None


def test_the_desk_and_language_forms(app_ctx):
    form, valid = posted(
        ReceptionCheckInForm, mobile="138 0013 8000", party_size="2", consent="yes", key="k"
    )
    assert valid and (form.party_size.data, form.consent.data) == (2, True)
    assert form.typed()["consent"] == "yes"
    form, valid = posted(ReceptionCheckInForm, party_size="٢")
    assert not valid and form.messages() == {"party_size": "请输入到店人数（1 到 20）。"}
    assert posted(LanguageForm, lang="en", next="/kiosk/")[0].lang.data == "en"
    assert not posted(LanguageForm, lang="fr")[1]

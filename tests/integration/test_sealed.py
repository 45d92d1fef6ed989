"""Values kept in the browser encrypted as well as signed (web/sealed.py)."""

import base64

import pytest

from web.sealed import seal, unseal

VALUE = {"mobile": "13912345678", "surname": "欧阳", "started": 1.5, "known": False}


@pytest.fixture
def context(app):
    with app.app_context():
        yield app


def test_a_sealed_value_opens_as_what_was_sealed_and_shows_nothing_of_it(context):
    sealed = seal(VALUE)
    assert unseal(sealed) == VALUE
    assert "13912345678" not in sealed and "欧阳" not in sealed
    # Nor does the token's own encoding hide the value in clear: its bytes show none of it.
    raw = base64.urlsafe_b64decode(sealed)
    assert b"13912345678" not in raw and "欧阳".encode() not in raw and b"mobile" not in raw
    assert seal(VALUE) != sealed  # a fresh nonce each time: equal values do not look equal


@pytest.mark.parametrize("token", [None, "", "not sealed", 42, {"mobile": "13912345678"}, "密"])
def test_anything_that_is_not_a_sealed_value_opens_as_nothing(context, token):
    assert unseal(token) is None


def test_a_sealed_value_changed_by_one_character_opens_as_nothing(context):
    sealed = seal(VALUE)
    middle = len(sealed) // 2
    changed = sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1 :]
    assert unseal(changed) is None


def test_a_value_sealed_under_another_secret_key_opens_as_nothing(context):
    sealed = seal(VALUE)
    saved = context.secret_key
    context.secret_key = "another secret key"
    try:
        assert unseal(sealed) is None
    finally:
        context.secret_key = saved

"""The one check for text that no database here can store: NUL and lone surrogates."""

import pytest

from shop.errors import ValidationError
from shop.validation import UNSTORABLE_TEXT, has_unstorable_text, load
from users.schemas import LoginSchema


@pytest.mark.parametrize(
    "value",
    [
        "nul\x00",
        "\ud800",
        "lone low \udfff",
        ["fine", {"deep": ["\udc00"]}],
        {"key\ud800": "value"},
        ("tuple", "\x00"),
    ],
)
def test_nul_or_a_lone_surrogate_anywhere_is_unstorable(value):
    assert has_unstorable_text(value)


@pytest.mark.parametrize(
    "value", ["plain", "\U0001f600 astral, not a surrogate", "\u0130", {"a": [1, None, 2.5]}]
)
def test_other_text_is_storable(value):
    assert not has_unstorable_text(value)


def test_nesting_of_any_depth_is_walked_without_recursion():
    deep = "\ud800"
    for _ in range(100_000):
        deep = [deep]

    assert has_unstorable_text(deep)


def test_load_names_each_field_with_unstorable_text():
    with pytest.raises(ValidationError) as refused:
        load(LoginSchema(), {"email": "a\ud800@example.com", "password": "nul\x00"})

    assert refused.value.details == {"email": [UNSTORABLE_TEXT], "password": [UNSTORABLE_TEXT]}

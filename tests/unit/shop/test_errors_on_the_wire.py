"""A caller gets the shop's errors back as their own types, from processes of this
release and of the one before it, which sent them as ``extensions.errors.<Name>``."""

import pytest
from nameko.exceptions import deserialize, serialize

from shop import errors

ERRORS = [
    errors.ValidationError,
    errors.NotFound,
    errors.Conflict,
    errors.Unauthorized,
    errors.Unavailable,
    errors.UpstreamTimeout,
]


@pytest.mark.parametrize("error", ERRORS)
def test_an_error_from_this_release_arrives_as_itself(error):
    arrived = deserialize(serialize(error("No such user", {"user_id": "7"})))
    assert type(arrived) is error
    assert (arrived.message, arrived.details) == ("No such user", {"user_id": "7"})


@pytest.mark.parametrize("error", ERRORS)
def test_an_error_from_a_process_of_the_release_before_arrives_as_itself(error):
    # What such a process sends: the errors lived in extensions/errors.py then.
    sent = {**serialize(error("No such user", {"user_id": "7"}))}
    sent["exc_path"] = f"extensions.errors.{error.__name__}"
    arrived = deserialize(sent)
    assert type(arrived) is error
    assert arrived.details == {"user_id": "7"}

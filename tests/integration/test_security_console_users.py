"""Console users: passwords that are easy to guess are refused, saying why."""

from __future__ import annotations

import pytest

import calkeeper
from calkeeper.core.errors import InvalidInput
from calkeeper.usecases.passwords import common_passwords


@pytest.mark.parametrize(("password", "why"), [
    (" " * 12, "cannot be blank or only spaces"),
    ("x" * 12, "cannot be one character repeated"),
    ("Carla.Berger", "cannot be the user name"),
    (" carla.berger ", "cannot be the user name"),
    ("Password123", "one of the most common passwords"),
    ("QWERTYUIOP", "one of the most common passwords"),
    ("Summer2025!", "one of the most common passwords"),
])
def test_a_console_password_that_is_easy_to_guess_is_refused_saying_why(
    site: calkeeper.LocalSite, password: str, why: str,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        site.create_console_user(username="carla.berger", password=password, role="admin")
    assert refused.value.code == "weak_password" and why in refused.value.message
    assert not password.strip() or password.strip() not in refused.value.message, "the password is not repeated"
    assert site.list_console_users() == []


def test_a_new_password_for_an_existing_user_is_held_to_the_same_rules(site: calkeeper.LocalSite) -> None:
    site.create_console_user(username="carla", password="a long and odd phrase", role="admin")
    with pytest.raises(InvalidInput, match="most common"):
        site.create_console_user(username="carla", password="password1234", role="admin", replace=True)


def test_a_short_password_is_still_refused_as_too_short(site: calkeeper.LocalSite) -> None:
    with pytest.raises(InvalidInput) as refused:
        site.create_console_user(username="carla", password="aaaa", role="admin")
    assert (refused.value.code, refused.value.message) == ("invalid_input",
                                                           "a console password needs at least 10 characters")


def test_the_common_passwords_ship_in_the_package_and_a_good_password_is_not_among_them(
    site: calkeeper.LocalSite,
) -> None:
    assert len(common_passwords()) > 100 and "1q2w3e4r5t" in common_passwords()
    made = site.create_console_user(username="carla", password="Tuesday lantern 42 oak", role="viewer")
    assert (made.username, made.role) == ("carla", "viewer")

"""Console users: passwords that are easy to guess are refused, saying why; admins disable, enable and
delete console users and end their sessions, but never lock the console out of its last admin."""

from __future__ import annotations

import pytest

import calkeeper
from calkeeper.core.errors import InvalidInput, NotFound, Refused, SignInRefused
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


# -- disabling, enabling, deleting, and ending sessions --------------------------------------------------------

PASSWORD = "a long and odd phrase"


@pytest.fixture
def users(site: calkeeper.LocalSite) -> calkeeper.LocalSite:
    """Two admins and a viewer."""
    for name, role in (("alma", "admin"), ("carla", "admin"), ("vic", "viewer")):
        site.create_console_user(username=name, password=PASSWORD, role=role)
    return site


def signed_in(site: calkeeper.LocalSite, name: str) -> str:
    secret, _ = site.app.console_users.sign_in(name, PASSWORD)
    return secret


def test_a_disabled_user_is_signed_out_at_once_and_cannot_sign_in_until_enabled(users: calkeeper.LocalSite) -> None:
    console = users.app.console_users
    session = signed_in(users, "carla")
    assert users.disable_console_user("Carla", actor="cli:root").disabled
    assert console.console_identity(session) is None
    with pytest.raises(SignInRefused):
        console.sign_in("carla", PASSWORD)
    assert not users.enable_console_user("carla").disabled
    assert console.console_identity(signed_in(users, "carla")) is not None
    entries = [(e.actor, e.action, e.target, e.details.get("sessions_ended")) for e in users.audit(target="carla")]
    assert ("cli:root", "console_user.disabled", "carla", 1) in entries
    assert ("tester", "console_user.enabled", "carla", None) in entries
    assert users.audit(action="console.sign_in_failed")[0].details["reason"] == "disabled user"


def test_a_deleted_user_is_gone_with_their_sessions(users: calkeeper.LocalSite) -> None:
    session = signed_in(users, "vic")
    deleted = users.delete_console_user("vic")
    assert (deleted.username, deleted.role) == ("vic", "viewer")
    assert users.app.console_users.console_identity(session) is None
    assert [u.username for u in users.list_console_users()] == ["alma", "carla"]
    with pytest.raises(NotFound) as unknown:
        users.delete_console_user("vic")
    assert unknown.value.code == "unknown_console_user" and unknown.value.message == "there is no console user 'vic'"


def test_ending_a_users_sessions_signs_them_out_everywhere_and_says_how_many(users: calkeeper.LocalSite) -> None:
    sessions = [signed_in(users, "carla"), signed_in(users, "carla"), signed_in(users, "alma")]
    assert users.end_console_sessions("carla") == 2
    assert [users.app.console_users.console_identity(s) is not None for s in sessions] == [False, False, True]
    assert users.end_console_sessions("carla") == 0
    assert not users.list_console_users()[1].disabled, "ending sessions is no disabling"


def test_the_last_enabled_admin_can_be_neither_disabled_nor_deleted(users: calkeeper.LocalSite) -> None:
    users.disable_console_user("alma")
    for change in (users.disable_console_user, users.delete_console_user):
        with pytest.raises(Refused) as refused:
            change("carla")
        assert refused.value.code == "last_console_admin"
        assert "'carla' is the last enabled console admin" in refused.value.message
    users.delete_console_user("vic")  # a viewer may go
    users.delete_console_user("alma")  # and a disabled admin
    assert [(u.username, u.disabled) for u in users.list_console_users()] == [("carla", False)]


def test_enabling_a_user_or_giving_a_new_password_lets_them_try_again_after_too_many_failures(
    users: calkeeper.LocalSite,
) -> None:
    console = users.app.console_users
    for change in (lambda: users.enable_console_user("carla"),
                   lambda: users.create_console_user(username="carla", password=PASSWORD, role="admin",
                                                     replace=True)):
        for n in range(10):
            with pytest.raises(SignInRefused):
                console.sign_in("carla", f"guess-number-{n}")
        with pytest.raises(SignInRefused) as braked:
            console.sign_in("carla", PASSWORD)
        assert braked.value.code == "too_many_sign_ins"
        change()
        assert console.console_identity(signed_in(users, "carla")) is not None

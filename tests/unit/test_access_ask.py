"""The access gate's question, parsed once at the edge."""

from __future__ import annotations

import pytest

from calkeeper.core.allocation import AccessAsk
from calkeeper.core.cals import ClientType
from calkeeper.core.errors import InvalidInput, InvalidUsers


def test_a_question_is_parsed_into_identities_and_a_client_type() -> None:
    ask = AccessAsk.parse("ACME\\Alice", "SalesFlash.qvw", machine="PC-1", client="desktop")
    assert ask.user is not None and (ask.user.name, ask.user.key) == ("ACME\\Alice", "ACME\\ALICE")
    assert (ask.machine.key, ask.client, ask.document) == ("PC-1", ClientType.DESKTOP, "SalesFlash.qvw")


@pytest.mark.parametrize("machine", [None, "", "   "])
def test_an_anonymous_open_without_a_machine_is_refused_with_the_reason(machine: str | None) -> None:
    with pytest.raises(InvalidInput) as refused:
        AccessAsk.parse(None, "SalesFlash.qvw", machine=machine)
    assert "anonymous open must name its machine" in refused.value.message


def test_a_named_users_open_without_a_machine_is_still_served_from_an_unnamed_machine() -> None:
    assert AccessAsk.parse("ACME\\alice", "SalesFlash.qvw").machine.name == "UNKNOWN"


def test_a_malformed_name_or_client_type_is_refused() -> None:
    with pytest.raises(InvalidUsers):
        AccessAsk.parse("alice", "SalesFlash.qvw", machine="PC-1")
    with pytest.raises(InvalidInput):
        AccessAsk.parse("ACME\\alice", "SalesFlash.qvw", machine="PC-1", client="telnet")

"""Both sites keep the one contract: every operation of ``SiteOperations``, with its exact signature.

mypy checks the same for ``RemoteSite`` (``calkeeper.client.remote`` assigns it to ``type[SiteOperations]``);
this test also names an operation that is missing or whose arguments differ, defaults included.
"""

from __future__ import annotations

import inspect

import pytest

import calkeeper.site
from calkeeper.client import RemoteSite
from calkeeper.contract.operations import SiteOperations

OPERATIONS = sorted(name for name, member in vars(SiteOperations).items()
                    if inspect.isfunction(member) and not name.startswith("_"))


def differences(implementation: type) -> list[str]:
    found = []
    for name in OPERATIONS:
        method = getattr(implementation, name, None)
        if method is None:
            found.append(f"{name}: missing")
            continue
        wanted, given = inspect.signature(getattr(SiteOperations, name)), inspect.signature(method)
        if str(wanted) != str(given):
            found.append(f"{name}{given} should be {name}{wanted}")
    return found


def test_the_contract_lists_every_operation_the_cli_and_the_api_offer() -> None:
    assert {"update_document", "release_missing_document", "backup", "restore", "create_token", "revoke_token",
            "list_tokens", "create_console_user", "list_console_users", "denials"} <= set(OPERATIONS)


def test_the_remote_site_has_every_operation_with_the_contracts_signature() -> None:
    assert differences(RemoteSite) == []


def test_the_local_site_has_every_operation_with_the_contracts_signature() -> None:
    local = getattr(calkeeper.site, "LocalSite", None)
    if local is None:
        pytest.skip("calkeeper.site has no LocalSite yet: the CLI adapts Site (calkeeper.cli.local_site)")
    assert differences(local) == []

"""Behaviours only Active Directory has, tested against recorded responses (no AD server here):
the in-chain matching rule (1.2.840.113556.1.4.1941) for nested groups, and binds as user@domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from calkeeper.core.directory import plan_sync
from calkeeper.directory.ldap_directory import BindRefused, LdapConfig, LdapDirectory

BASE = "DC=corp,DC=example"
SALES = f"CN=Sales,OU=Groups,{BASE}"
ALICE = f"CN=Alice Adams,OU=Staff,{BASE}"
BOB = f"CN=Bob Brown,OU=Staff,{BASE}"


def entry(dn: str, **attributes: Any) -> dict[str, Any]:
    return {"type": "searchResEntry", "dn": dn, "attributes": attributes}


# What a Windows Server 2022 domain controller answered, keyed by a part of the filter asked.
RECORDED = {
    f"(cn={'Sales'})": [entry(SALES, objectClass=["top", "group"])],
    f"(memberOf:1.2.840.113556.1.4.1941:={SALES})": [
        entry(ALICE, sAMAccountName="alice", displayName="Alice Adams"),
        entry(BOB, sAMAccountName="bob", displayName="Bob Brown"),  # in Sales through the nested group EMEA
    ],
    "(sAMAccountName=alice)": [entry(ALICE, sAMAccountName="alice", displayName="Alice Adams",
                                     userPrincipalName="alice@corp.example")],
    "(userPrincipalName=alice@corp.example)": [entry(ALICE, sAMAccountName="alice", displayName="Alice Adams",
                                                     userPrincipalName="alice@corp.example")],
    f"(member:1.2.840.113556.1.4.1941:={ALICE.replace('(', '')})": [
        entry(SALES, cn="Sales"), entry(f"CN=EMEA,OU=Groups,{BASE}", cn="EMEA")],
}


@dataclass
class RecordedConnection:
    searches: list[str] = field(default_factory=list)
    result: Any = None
    response: Any = None

    def search(self, search_base: str, search_filter: str, **_: Any) -> bool:
        self.searches.append(search_filter)
        self.response = next((answer for key, answer in RECORDED.items() if key in search_filter), [])
        self.result = {"result": 0, "controls": {}}
        return True

    def unbind(self) -> None:
        pass


@dataclass
class RecordedServer:
    binds: list[str | None] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=lambda: {"alice@corp.example": "Winter-is-coming-2026"})
    connection: RecordedConnection = field(default_factory=RecordedConnection)

    def __call__(self, config: LdapConfig, who: str | None, password: str | None) -> RecordedConnection:
        self.binds.append(who)
        if who is not None and self.passwords.get(who) != password:
            raise BindRefused()
        return self.connection


def active_directory(server: RecordedServer) -> LdapDirectory:
    config = LdapConfig(url="ldaps://dc1.corp.example", user_base=BASE, group_base=BASE, domain="CORP",
                        bind_dn="svc-calkeeper@corp.example", bind_password="service-secret", active_directory=True,
                        user_filter="(&(objectCategory=person)(objectClass=user))", group_filter="(objectClass=group)")
    return LdapDirectory(config, connector=server)


def test_recorded_ad_nested_group_members_come_from_the_in_chain_matching_rule():
    server = RecordedServer()
    members = active_directory(server).members("Sales")
    assert [m.name for m in members] == ["CORP\\alice", "CORP\\bob"]
    assert any("memberOf:1.2.840.113556.1.4.1941:=" in s for s in server.connection.searches)


def test_recorded_ad_sign_in_binds_as_user_at_domain_and_reads_nested_groups_in_chain():
    server = RecordedServer()
    account = active_directory(server).authenticate("CORP\\alice", "Winter-is-coming-2026")
    assert account is not None and account.name == "CORP\\alice"
    assert "alice@corp.example" in server.binds  # the userPrincipalName, as AD takes it
    assert account.in_group("EMEA") and account.in_group(SALES)


def test_recorded_ad_sign_in_by_upn_as_typed():
    server = RecordedServer()
    assert active_directory(server).authenticate("alice@corp.example", "Winter-is-coming-2026") is not None
    assert any("(userPrincipalName=alice@corp.example)" in s for s in server.connection.searches)


def test_recorded_ad_wrong_or_empty_password_is_refused_and_empty_never_binds():
    server = RecordedServer()
    directory = active_directory(server)
    assert directory.authenticate("CORP\\alice", "wrong") is None
    binds = len(server.binds)
    assert directory.authenticate("CORP\\alice", "") is None
    assert len(server.binds) == binds  # an empty password is refused before anything is asked


def test_a_sync_plan_assigns_new_members_and_takes_back_only_what_the_rule_gave():
    plan = plan_sync(["ACME\\Alice", "ACME\\bob"], ["acme\\alice", "ACME\\carol"])
    assert plan.assign == ["ACME\\bob"] and plan.remove == ["ACME\\carol"]

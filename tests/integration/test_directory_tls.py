"""The directory over TLS against a real slapd: StartTLS on ldap:// and ldaps://, both checked against the
CA file the site names; a server whose certificate another CA signed is refused in plain words."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from calkeeper.core.errors import DirectoryUnavailable
from calkeeper.directory.ldap_directory import LdapConfig, LdapDirectory
from tests.integration import ldap_kit
from tests.integration.ldap_kit import BIND_DN, BIND_PASSWORD, GROUPS, PEOPLE

pytestmark = pytest.mark.skipif(not Path(ldap_kit.SLAPD).exists(), reason="needs slapd (make system-packages)")


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ldap_kit.Slapd]:
    with ldap_kit.running_slapd(tmp_path_factory.mktemp("slapd-tls"), tls=True) as server:
        yield server


@pytest.fixture
def config(slapd: ldap_kit.Slapd) -> LdapConfig:
    return LdapConfig(url=slapd.url, user_base=PEOPLE, group_base=GROUPS, domain="ACME", bind_dn=BIND_DN,
                      bind_password=BIND_PASSWORD, start_tls=True, ca_file=str(slapd.ca_file),
                      login_attribute="uid", user_filter="(objectClass=inetOrgPerson)",
                      group_filter="(objectClass=groupOfNames)", timeout_seconds=2)


def test_start_tls_on_ldap_with_the_sites_ca_file(config):
    check = LdapDirectory(config).check()
    assert any("bound as cn=calkeeper" in step for step in check.steps)
    assert [e.name for e in LdapDirectory(config).search("aro", kind="user", limit=10)] == ["ACME\\carol"]


def test_ldaps_with_the_sites_ca_file(config, slapd):
    ldaps = dataclasses.replace(config, url=slapd.ldaps_url, start_tls=False)
    assert LdapDirectory(ldaps).check().kind == "ldap"
    assert LdapDirectory(ldaps).authenticate("ACME\\carol", "carol-password") is not None


def test_a_certificate_another_ca_signed_is_refused_in_plain_words(config, slapd, tmp_path):
    other_ca, _, _ = ldap_kit.make_certificates(tmp_path, name="Someone else's CA")
    for broken in (dataclasses.replace(config, ca_file=str(other_ca)),
                   dataclasses.replace(config, url=slapd.ldaps_url, start_tls=False, ca_file=str(other_ca))):
        with pytest.raises(DirectoryUnavailable) as refused:
            LdapDirectory(broken).check()
        assert refused.value.code == "directory_tls_failed", refused.value.message
        assert "TLS" in refused.value.message and BIND_PASSWORD not in refused.value.message

"""Every input has a clean edge: what the checks accept fits where it is stored, what they refuse is
refused with a clear error, and one bad file in the root folder or one bad LEF breaks nothing else."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from calkeeper.core.allocation import OpenRequest
from calkeeper.core.cals import ClientType
from calkeeper.core.documents import DocumentInfo
from calkeeper.core.errors import InvalidUsers, LicenseRejected
from calkeeper.core.identities import MACHINE_MAX, USER_KEY_MAX, USER_NAME_MAX, Identity
from calkeeper.core.license import LICENSEE_MAX
from calkeeper.core.serials import control_number, new_serial
from calkeeper.store import schema
from tests.integration.authority_kit import ScriptedAuthority
from tests.integration.steps import SALES, audit_entries, open_as, snapshot
from tests.kit import apply_license, signed_lef

# Valid as typed (109 characters), but 'ß' case-folds to 'ss': its key would have 213 characters.
FOLDS_TOO_LONG = "ACME\\" + "ß" * 104


def column(table: type[schema.Base], name: str) -> int:
    length = table.__table__.c[name].type.length  # type: ignore[attr-defined]
    assert isinstance(length, int)
    return length


def stored_rows(database_url: str) -> dict[str, int]:
    """How many rows each table that holds names has."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                    for table in ("users", "named_cals", "document_cals", "session_cals", "usage_cals", "sessions",
                                  "denials", "audit_log")}
    finally:
        engine.dispose()


# -- user and machine names fit their columns ---------------------------------------------------------


def test_every_user_name_the_core_accepts_fits_the_columns_that_store_it_as_displayed() -> None:
    for table, name in ((schema.User, "name"), (schema.NamedCal, "identity_name"), (schema.DocumentCal, "user_name"),
                        (schema.SessionCal, "user_name"), (schema.UsageCal, "user_name"), (schema.Session, "user_name"),
                        (schema.DenialRecord, "user_name"), (schema.AuditEntry, "target")):
        assert column(table, name) >= USER_NAME_MAX, f"{table.__tablename__}.{name}"


def test_every_user_key_the_core_makes_fits_the_columns_that_store_it() -> None:
    for table, name in ((schema.User, "key"), (schema.NamedCal, "identity_key"), (schema.DocumentCal, "user_key"),
                        (schema.UsageCal, "holder_key")):
        assert column(table, name) >= USER_KEY_MAX, f"{table.__tablename__}.{name}"


def test_every_machine_name_the_core_accepts_fits_the_columns_that_store_it() -> None:
    for table, name in ((schema.SessionCal, "machine"), (schema.UsageCal, "machine"), (schema.Session, "machine"),
                        (schema.DenialRecord, "machine"), (schema.NamedCal, "identity_name"),
                        (schema.NamedCal, "identity_key")):
        assert column(table, name) >= MACHINE_MAX, f"{table.__tablename__}.{name}"


def test_the_longest_client_instance_key_fits_its_column() -> None:
    document = DocumentInfo(1, SALES, False, 0, False)
    machine = Identity("M" * MACHINE_MAX, "m" * MACHINE_MAX, "machine")
    longest = 0
    for user in (Identity("u" * USER_NAME_MAX, "u" * USER_KEY_MAX, "user"), None):  # a user, or anonymous
        for client in ClientType:
            request = OpenRequest(user, machine, client, document)
            assert len(request.holder_key) <= column(schema.UsageCal, "holder_key")
            longest = max(longest, len(request.client_key))
    assert longest <= column(schema.SessionCal, "client_key")


def test_a_user_name_too_long_once_case_folded_is_refused_at_the_access_gate_and_nothing_is_stored(
        site, key, database_url) -> None:
    apply_license(site, key, named=1, session=1, usage=1)
    before, rows = snapshot(site), stored_rows(database_url)
    with pytest.raises(InvalidUsers) as caught:
        open_as(site, FOLDS_TOO_LONG)
    assert f"'{FOLDS_TOO_LONG}' is not a valid user name" in caught.value.message
    assert "213 characters" in caught.value.message
    assert (snapshot(site), stored_rows(database_url)) == (before, rows)
    assert open_as(site, "ACME\\" + "ß" * 97).granted  # 199 characters case-folded: it fits


def test_a_user_name_too_long_once_case_folded_is_refused_by_assign_named_cals_and_nothing_is_stored(
        site, key, database_url) -> None:
    apply_license(site, key, named=2)
    before, rows = snapshot(site), stored_rows(database_url)
    with pytest.raises(InvalidUsers, match="nothing was applied: 1 entry is not valid") as caught:
        site.assign_named_cals(f"ACME\\alice;{FOLDS_TOO_LONG}")
    assert [d["entry"] for d in caught.value.details] == [FOLDS_TOO_LONG]
    assert (snapshot(site), stored_rows(database_url)) == (before, rows)


def test_a_machine_name_longer_than_its_limit_is_refused_at_the_access_gate(site, key, database_url) -> None:
    apply_license(site, key, named=1, session=1)
    rows = stored_rows(database_url)
    with pytest.raises(InvalidUsers, match=f"at most {MACHINE_MAX} characters"):
        open_as(site, None, machine="M" * (MACHINE_MAX + 1))
    assert stored_rows(database_url) == rows


# -- a LEF is applied only under the owner and organization it names ---------------------------------


def apply_as(site, key, serial, *, owner, organization, lef_owner="Example Site", lef_organization="Example Org",
             **counts):
    """Apply a LEF signed for ``lef_owner`` / ``lef_organization`` with the owner and organization typed."""
    lef = signed_lef(key, serial, owner=lef_owner, organization=lef_organization, **counts)
    return site.apply_license(serial=serial, control=control_number(serial), owner=owner,
                              organization=organization, lef=lef)


def test_the_owner_and_organization_fit_the_columns_of_the_license_in_force() -> None:
    assert column(schema.LicenseRecord, "owner") >= LICENSEE_MAX
    assert column(schema.LicenseRecord, "organization") >= LICENSEE_MAX


def test_a_validly_signed_lef_applied_under_another_owner_is_refused_and_the_license_in_force_stays(site, key):
    serial = apply_license(site, key, named=2)
    before = snapshot(site)
    with pytest.raises(LicenseRejected) as refused:
        apply_as(site, key, serial, owner="Mallory", organization="Mallory Inc", named=50)
    assert refused.value.code == "lef_owner_mismatch"
    assert "the owner 'Example Site', not 'Mallory' as entered" in refused.value.message
    assert "the organization 'Example Org', not 'Mallory Inc' as entered" in refused.value.message
    assert snapshot(site) == before


def test_a_first_license_under_another_owner_is_refused_and_the_site_stays_unlicensed(site, key):
    with pytest.raises(LicenseRejected) as refused:
        apply_as(site, key, new_serial(), owner="Anyone", organization="Example Org")
    assert refused.value.code == "lef_owner_mismatch"
    assert site.license() is None


def test_the_license_in_force_keeps_the_lefs_spelling_of_the_owner_and_organization(site, key):
    view = apply_as(site, key, new_serial(), owner="  example SITE ", organization="EXAMPLE org")
    assert (view.owner, view.organization) == ("Example Site", "Example Org")
    assert (site.license().owner, site.license().organization) == ("Example Site", "Example Org")
    [applied] = audit_entries(site, "license.applied")
    assert (applied.details["owner"], applied.details["organization"]) == ("Example Site", "Example Org")


def test_a_lef_fetched_from_the_authority_is_refused_under_another_owner_than_the_one_it_names(site, key):
    serial = new_serial()
    site.app.licensing.authority = ScriptedAuthority(signed_lef(key, serial))
    with pytest.raises(LicenseRejected) as refused:
        site.apply_license(serial=serial, control=control_number(serial), owner="Mallory",
                           organization="Example Org")
    assert refused.value.code == "lef_owner_mismatch"
    assert site.license() is None


def test_update_license_from_server_applies_the_newer_lef_under_the_owner_in_force(site, key):
    serial = apply_license(site, key, named=2)
    site.app.licensing.authority = ScriptedAuthority(signed_lef(key, serial, named=7))
    update = site.update_license()
    assert update.updated and update.license.cals["named"] == 7
    assert (update.license.owner, update.license.organization) == ("Example Site", "Example Org")

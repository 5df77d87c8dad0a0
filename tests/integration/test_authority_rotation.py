"""Key rotation: a new key signs new LEFs, older public keys stay published, and sites keep working."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import calkeeper
from calkeeper.authority.api import create_authority_app
from calkeeper.authority.keys import activate_key, active_key_id, list_keys, rotate_key
from calkeeper.authority.settings import AuthoritySettings
from calkeeper.authority.tokens import AdminTokens
from calkeeper.core.errors import LicenseRejected, NotFound
from calkeeper.core.keys import load_public_keys
from tests.integration.authority_kit import RegistryAuthority, apply_fetched, make_registry, new_site, pinned_keys
from tests.integration.steps import open_as, snapshot

ALICE = "ACME\\alice"


@pytest.fixture
def registry(tmp_path, clock):
    registry = make_registry(tmp_path / "authority", clock)
    yield registry
    registry.engine.dispose()


@pytest.fixture
def site(tmp_path, clock, registry, root):
    """A site that pinned the authority's first key, and holds a license signed with it."""
    site = calkeeper.open_site(f"sqlite:///{tmp_path / 'site.db'}", clock=clock, trusted_keys=pinned_keys(registry),
                               root_folder=root, authority=RegistryAuthority(registry))
    apply_fetched(site, new_site(registry))
    site.assign_named_cals(ALICE)
    yield site
    site.close()


def test_after_rotation_new_lefs_are_signed_with_the_new_key_id(registry, site):
    old = active_key_id(registry.keys_dir)
    new = rotate_key(registry.keys_dir)
    assert new.key_id != old and active_key_id(registry.keys_dir) == new.key_id
    assert f"SIGNATURE;{new.key_id}:" in registry.lef_for(site.license().serial)


def test_a_site_pinned_to_the_old_key_keeps_its_license_and_verifies_lefs_signed_with_it(registry, site):
    serial = site.license().serial
    signed_before = registry.lef_for(serial)
    rotate_key(registry.keys_dir)
    assert open_as(site, ALICE).cal_type == "named"
    view = site.apply_license(serial=serial, control=site.license().control, owner="Example Site",
                              organization="Example Org", lef=signed_before)
    assert view.key_id == signed_before.split("SIGNATURE;")[1].split(":")[0]


def test_a_site_must_pin_the_new_key_before_it_can_update(registry, site):
    rotate_key(registry.keys_dir)
    before = snapshot(site)
    with pytest.raises(LicenseRejected) as refused:
        site.update_license()
    assert refused.value.code == "lef_unknown_key" and "does not trust" in refused.value.message
    assert snapshot(site) == before
    site.app.licensing.trusted_keys = load_public_keys([registry.keys_dir])  # the admin pins the published keys
    assert site.update_license().license.key_id == active_key_id(registry.keys_dir)
    assert open_as(site, ALICE).cal_type == "named"


def test_a_key_published_ahead_of_time_lets_sites_pin_it_before_it_signs(registry, site):
    old = active_key_id(registry.keys_dir)
    ahead = rotate_key(registry.keys_dir, activate=False)
    assert active_key_id(registry.keys_dir) == old
    assert f"SIGNATURE;{old}:" in registry.lef_for(site.license().serial)
    site.app.licensing.trusted_keys = load_public_keys([registry.keys_dir])  # pinned while the old key still signs
    activate_key(registry.keys_dir, ahead.key_id)
    result = site.update_license()
    assert result.updated and result.license.key_id == ahead.key_id
    assert result.changes == {"signing key": f"{old} -> {ahead.key_id}"}


def test_only_a_key_with_its_private_half_can_be_activated(registry):
    with pytest.raises(NotFound):
        activate_key(registry.keys_dir, "ck-000000000000")


def test_every_public_key_stays_published_and_no_private_key_is_served(registry, tmp_path):
    first = active_key_id(registry.keys_dir)
    second = rotate_key(registry.keys_dir).key_id
    third = rotate_key(registry.keys_dir, activate=False).key_id
    assert [(k.key_id, k.active) for k in list_keys(registry.keys_dir)] == [(first, False), (second, True),
                                                                           (third, False)]
    app = create_authority_app(AuthoritySettings(dir=tmp_path / "authority"), registry=registry,
                               tokens=AdminTokens(registry.engine))
    with TestClient(app) as http:
        published = http.get("/keys").json()
        assert published["active"] == second
        assert [k["key_id"] for k in published["keys"]] == [first, second, third]
        for key in published["keys"]:
            pem = http.get(f"/keys/{key['key_id']}.pub")
            assert pem.status_code == 200 and pem.text == key["public_key"]
            assert "PRIVATE" not in pem.text
        assert "PRIVATE" not in http.get("/keys").text
        assert http.get(f"/keys/{first}.key").status_code == 404

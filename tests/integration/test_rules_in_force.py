"""A first-time claim decides by the rules in force, whatever the node serving it has cached.

A node keeps the site's rules (license, settings) in memory and re-reads them when the site's generation
moves. A claim reads the generation in its own transaction, beside the CALs steps 1 and 2 ask for, so a
change made through another node a moment ago governs the very next claim, before the cache's refresh bound.
"""

from __future__ import annotations

import pytest

import calkeeper
from tests.integration.steps import open_as, pool
from tests.kit import apply_license


@pytest.fixture
def node_b(database_url, clock, key, root):
    other = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                                root_folder=root)
    yield other
    other.close()


def test_dynamic_assignment_turned_off_on_another_node_governs_the_next_claim(site, key, node_b):
    apply_license(site, key, named=5, session=0, usage=0)
    site.update_cal_settings(allow_dynamic_assignment=True)
    assert open_as(site, "ACME\\alice").cal_type == "named"  # node A has the rules in memory now
    node_b.update_cal_settings(allow_dynamic_assignment=False)
    refused = open_as(site, "ACME\\bob")  # the site's clock has not moved: A's cache is within its bound
    assert not refused.granted
    assert pool(site, "named").assigned == 1


def test_identification_by_machine_set_on_another_node_names_the_machine_in_the_next_claim(site, key, node_b):
    apply_license(site, key, named=5, session=0, usage=0)
    site.update_cal_settings(allow_dynamic_assignment=True)
    assert open_as(site, "ACME\\alice", machine="PC-1").cal_type == "named"
    node_b.update_cal_settings(identification_mode="machine")
    granted = open_as(site, "ACME\\bob", machine="PC-7")
    assert granted.granted and granted.cal_type == "named"
    holders = {(cal.identity_kind, cal.user) for cal in node_b.list_named_cals().items}
    assert ("machine", "PC-7") in holders
    assert ("user", "ACME\\bob") not in holders

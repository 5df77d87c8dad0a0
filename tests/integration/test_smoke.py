from tests.kit import apply_license


def test_a_first_open_gets_a_dynamic_named_cal(site, key):
    apply_license(site, key, named=1)
    decision = site.open_document("ACME\\alice", "SalesFlash.qvw", machine="PC-1")
    assert decision.granted and decision.cal_type == "named" and decision.dynamic

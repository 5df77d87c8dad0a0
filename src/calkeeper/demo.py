"""The demo site: an authority key, a signed license, the four Analytix documents and some users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from calkeeper.authority.signing import create_key, load_signing_key, make_lef, sign_lef
from calkeeper.bootstrap import bootstrap
from calkeeper.core.serials import control_number
from calkeeper.infra.lease_key import load_or_create_lease_key
from calkeeper.infra.private_paths import private_folder
from calkeeper.settings import Settings
from calkeeper.site import LocalSite

DEMO_SERIAL = "4600123456789012"
DEMO_OWNER = "Analytix Demo Site"
DEMO_ORGANIZATION = "ACME Corporation"
ANALYTIX = ["Advertising Analytix.qvw", "SalesFlash.qvw", "AR Analytix.qvw", "Contract Analytix.qvw"]
NAMED_USERS = "ACME\\alice;ACME\\bob"
SALES_REPS = "ACME\\rep1;ACME\\rep2"
# The built-in directory of the demo: its users and groups (no passwords: they do not sign in).
DIRECTORY_USERS = """user,display_name,groups
ACME\\alice,Alice Adams,Analysts
ACME\\bob,Bob Brown,Analysts
ACME\\carol,Carol Clark,Finance
ACME\\dave,Dave Dunn,Finance
ACME\\rep1,Rita Reed,Sales
ACME\\rep2,Ray Rowe,Sales
ACME\\rep3,Rosa Ruiz,Sales
"""


@dataclass(frozen=True)
class DemoSite:
    data_dir: Path
    database: str
    serial: str
    control: str
    lef_file: Path
    created: bool


def set_up_demo(settings: Settings, *, actor: str = "demo") -> DemoSite:
    """Create the demo site in the settings' data dir; leave an existing one as it is."""
    data = private_folder(settings.data_dir)
    keys_dir = private_folder(settings.authority_keys_dir)
    key = load_signing_key(keys_dir) if (keys_dir / "active").exists() else create_key(keys_dir)
    trusted = settings.trusted_keys_dir
    trusted.mkdir(parents=True, exist_ok=True)
    (trusted / f"{key.key_id}.pub").write_bytes(key.public_pem())
    root = settings.documents
    root.mkdir(parents=True, exist_ok=True)
    for name in ANALYTIX:
        document = root / name
        if not document.exists():
            document.write_bytes(b"QlikView document placeholder for the calkeeper demo\n")
    lef_file = data / "authority" / "demo-license.lef"
    lease_key = load_or_create_lease_key(settings.lease_key_path).public_key()  # vouched for: desktop leases work
    lef = sign_lef(make_lef(serial=DEMO_SERIAL, owner=DEMO_OWNER, organization=DEMO_ORGANIZATION, named=5,
                            document=20, session=5, usage=28, maintenance_until=date(2027, 12, 31),
                            lease_key=lease_key), key)
    lef_file.write_text(lef, encoding="utf-8", newline="")
    site = LocalSite(bootstrap(settings, actor=actor))
    try:
        created = site.license() is None
        if created:
            site.apply_license(serial=DEMO_SERIAL, control=control_number(DEMO_SERIAL), owner=DEMO_OWNER,
                               organization=DEMO_ORGANIZATION, lef=lef)
            site.list_documents()
            site.update_cal_settings(allow_dynamic_assignment=True)
            site.assign_named_cals(NAMED_USERS)
            site.update_document("SalesFlash.qvw", cals_allocated=10, allow_dynamic_assignment=True)
            site.assign_document_cals("SalesFlash.qvw", SALES_REPS)
            site.update_document("AR Analytix.qvw", cals_allocated=5)
            site.assign_document_cals("AR Analytix.qvw", "ACME\\carol")
            site.import_directory_users(DIRECTORY_USERS)
    finally:
        site.close()
    return DemoSite(data, settings.database, DEMO_SERIAL, control_number(DEMO_SERIAL), lef_file, created)


"""Schemathesis against the API's own OpenAPI document, in process, with every check it has: no 5xx, and
every answer as documented (statuses, content types, bodies, 405s naming the methods a path takes).

Each operation gets a test of its own on a fresh demo site with an admin token, through all of
Schemathesis' phases: the schema's examples, its coverage cases (boundaries, wrong types, missing
and unexpected fields, undeclared methods) and random valid and invalid requests. Clearing CAL data
empties the site, so it gets fewer random examples of its own.
(Schemathesis' lazy ``from_fixture`` does not run under pytest 9.2: the schema is loaded from the app's
document at import, and each test points it at its own site through ``SITE_APP``.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS as REGISTRY
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig
from starlette.types import ASGIApp, Receive, Scope, Send

from calkeeper.api.app import create_app
from calkeeper.settings import Settings
from tests.e2e.api_site import Api, running_api

load_all_checks()
CHECKS = REGISTRY.get_all()  # every check schemathesis has
# A request the schema allows may still be refused by a rule the schema cannot say (a user name's form,
# a license's checks): 422 is that answer, as 409 is a licensing rule's and 502 the authority's.
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429", "502", "503"]}}})
CLEAR = "/api/v1/maintenance/clear-cal-data"
# Few random examples each: the coverage phase already walks every boundary, and the suite stays fast.
FUZZ = settings(max_examples=5, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])


class SiteApp:
    """The app of the site the running test made (building the app touches no file and no database)."""

    app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no test site is running"
        await self.app(scope, receive, send)


SITE_APP = SiteApp()
schema = schemathesis.openapi.from_dict(create_app(Settings(data_dir=Path("/nonexistent/calkeeper"))).openapi(),
                                        config=CONFIG)
schema.app = SITE_APP


async def no_wait(seconds: float) -> None:
    """The brake's hold on a bad token's answer, not waited here (its lengths: test_security_tokens)."""


@pytest.fixture
def api(tmp_path: Path, template: Path) -> Iterator[Api]:
    with running_api(tmp_path, template=template) as running:
        SITE_APP.app = running.client.app  # the app's lifespan has run: the site is on app.state
        running.client.app.state.guard.hold = no_wait  # bad tokens are still braked, their answers not held back
        yield running
        SITE_APP.app = None


@schema.exclude(path=CLEAR).parametrize()
@FUZZ
def test_the_operation_answers_as_its_openapi_says(case: schemathesis.Case, api: Api) -> None:
    case.call_and_validate(headers=api.auth("admin"), checks=CHECKS)


@schema.include(path=CLEAR).parametrize()
@settings(FUZZ, max_examples=3)
def test_clearing_cal_data_answers_as_its_openapi_says(case: schemathesis.Case, api: Api) -> None:
    case.call_and_validate(headers=api.auth("admin"), checks=CHECKS)

"""Schemathesis against the API's own OpenAPI document, in process: no 5xx, and every answer as documented.

One test per operation, each on a fresh demo site with an admin token, with valid and invalid
requests. Clearing CAL data empties the site, so it gets fewer examples of its own.
(Schemathesis' lazy ``from_fixture`` does not run under pytest 9.2, hence the explicit Hypothesis test.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from calkeeper.api.app import create_app
from calkeeper.settings import Settings
from tests.e2e.api_site import Api, demo_template, running_api

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CLEAR = ("POST", "/api/v1/maintenance/clear-cal-data")
EXAMPLES = {CLEAR: 8}
DEFAULT_EXAMPLES = 25


def operations() -> list[object]:
    """Every operation of the OpenAPI document (building the app touches no file and no database)."""
    spec = create_app(Settings(data_dir=Path("/nonexistent/calkeeper"))).openapi()
    pairs = [(method.upper(), path) for path, item in spec["paths"].items() for method in item]
    return [pytest.param(method, path, id=f"{method} {path}") for method, path in pairs]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_template(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def api(tmp_path: Path, template: Path) -> Iterator[Api]:
    with running_api(tmp_path, template=template) as running:
        yield running


@pytest.mark.parametrize(("method", "path"), operations())
def test_the_operation_answers_as_its_openapi_says(api: Api, method: str, path: str) -> None:
    # the app's lifespan has run inside ``api``: the site is on app.state for schemathesis' own client
    admin = api.auth("admin")
    operation = schemathesis.openapi.from_asgi("/api/openapi.json", api.client.app, headers=admin)[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=EXAMPLES.get((method, path), DEFAULT_EXAMPLES), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=admin, checks=CHECKS)

    fuzz()

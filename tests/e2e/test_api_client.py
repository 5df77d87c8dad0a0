"""The Python client and the CLI's remote mode against a real ``calkeeper serve`` process over HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from calkeeper.client import AccessResult, ApiAuthError, AsyncCalkeeperClient, CalkeeperClient, ServerUnavailable
from calkeeper.contract.views import AuditView, LicenseView, PoolView, to_json
from calkeeper.core.cals import CalType, Denial, Grant
from calkeeper.core.documents import DocumentProblem
from calkeeper.core.errors import (
    AllocationRefused,
    InvalidUsers,
    LicenseRejected,
    NotQuarantined,
    StoreUnavailable,
    UnknownDocument,
)
from calkeeper.demo import DEMO_ORGANIZATION, DEMO_OWNER, DEMO_SERIAL
from tests.e2e.servers import CLI, RunningServer, free_port, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One demo server for the module; each test uses its own users and documents."""
    with running_server(tmp_path_factory.mktemp("api-client") / "site") as running:
        yield running


@pytest.fixture
def cal(server: RunningServer) -> Iterator[CalkeeperClient]:
    with CalkeeperClient(server.url, server.admin_token) as client:
        yield client


def retire(server: RunningServer, cal: CalkeeperClient, document: str) -> None:
    """A document the server knew that has since gone from the root folder."""
    path = server.data_dir / "documents" / document
    path.write_bytes(b"placeholder\n")
    cal.list_documents()
    path.unlink()
    assert next(d for d in cal.list_documents() if d.path == document).missing


# The Python client


def test_the_gate_grants_a_document_cal_holder_and_the_session_can_be_ended(cal: CalkeeperClient) -> None:
    answer = cal.access("ACME\\rep1", "SalesFlash.qvw", machine="PC-17")
    assert isinstance(answer, AccessResult)
    assert (answer.granted, answer.cal_type, answer.user) == (True, "document", "ACME\\rep1")
    decision = answer.decision()
    assert isinstance(decision, Grant) and decision.cal_type is CalType.DOCUMENT
    assert decision.session_id == answer.session_id
    ended = cal.end_session(answer.session_id or "")
    assert ended.session_id == answer.session_id and "stays assigned" in ended.outcome


def test_a_refused_open_is_an_answer_with_a_reason_and_is_listed_in_the_denials(
    server: RunningServer, cal: CalkeeperClient
) -> None:
    retire(server, cal, "Retired Analytix.qvw")
    answer = cal.access("ACME\\rep1", "Retired Analytix.qvw", machine="PC-17")
    assert (answer.granted, answer.code) == (False, "document_missing")
    assert "missing from the root folder" in answer.reason
    assert isinstance(answer.decision(), Denial)
    latest = cal.denials(limit=1)[0]
    assert (latest.document, latest.code) == ("Retired Analytix.qvw", "document_missing")
    assert isinstance(latest.at, datetime)


def test_errors_come_back_as_the_calkeeper_error_classes_with_code_message_and_details(
    cal: CalkeeperClient,
) -> None:
    with pytest.raises(InvalidUsers) as invalid:
        cal.assign_named_cals("ACME\\xavier;not-a-user")
    assert invalid.value.code == "invalid_user" and "nothing was applied" in invalid.value.message
    assert invalid.value.details == [{"entry": "not-a-user", "problem": "a user name is DOMAIN\\user "
                                                                      "(for example ACME\\alice)"}]
    with pytest.raises(UnknownDocument, match=r"Nope\.qvw"):
        cal.access("ACME\\rep1", "Nope.qvw")
    with pytest.raises(AllocationRefused) as refused:
        cal.update_document("SalesFlash.qvw", cals_allocated=1000)
    assert refused.value.details == {"unallocated": refused.value.details["unallocated"]}
    with pytest.raises(NotQuarantined):
        cal.restore_named_cal("ACME\\alice")
    with pytest.raises(LicenseRejected) as rejected:
        cal.apply_license(serial=DEMO_SERIAL, control="00000", owner=DEMO_OWNER, organization=DEMO_ORGANIZATION,
                          lef="whatever")
    assert rejected.value.code == "control_number_mismatch"
    assert cal.license().serial == DEMO_SERIAL


def test_a_wrong_token_or_a_role_that_may_not_do_it_raises_api_auth_error(
    server: RunningServer, cal: CalkeeperClient
) -> None:
    with CalkeeperClient(server.url, "ck_not-a-token") as stranger, pytest.raises(ApiAuthError) as wrong:
        stranger.cal_overview()
    assert wrong.value.code == "unauthorized" and "not valid" in wrong.value.message
    with CalkeeperClient(server.url, server.create_token("viewer", "e2e-viewer")) as viewer:
        assert viewer.cal_overview().licensed
        with pytest.raises(ApiAuthError) as forbidden:
            viewer.assign_named_cals("ACME\\vera")
    assert forbidden.value.code == "forbidden" and "viewer" in forbidden.value.message
    assert cal.list_named_cals(search="vera").total == 0


def test_user_names_with_a_backslash_and_spaces_reach_the_server_intact(cal: CalkeeperClient) -> None:
    assert [o.outcome for o in cal.assign_named_cals(["ACME\\Dora Explorer"])] == ["assigned"]
    held = cal.user_cals("ACME\\Dora Explorer").named_cal
    assert held is not None and held.user == "ACME\\Dora Explorer" and held.assigned_at.tzinfo is not None
    removed = cal.remove_named_cal("ACME\\dora explorer")
    assert (removed.user, removed.outcome, removed.quarantined_until) == ("ACME\\Dora Explorer", "freed", None)
    assert cal.list_named_cals(search="Dora").total == 0


def test_a_post_retried_with_the_same_idempotency_key_is_answered_again_not_run_again(cal: CalkeeperClient) -> None:
    first = cal.assign_document_cals("AR Analytix.qvw", "ACME\\erik", idempotency_key="assign-erik-1")
    retry = cal.assign_document_cals("AR Analytix.qvw", "ACME\\erik", idempotency_key="assign-erik-1")
    assert [o.outcome for o in first] == [o.outcome for o in retry] == ["assigned"]
    assert [o.outcome for o in cal.assign_document_cals("AR Analytix.qvw", "ACME\\erik")] == ["already assigned"]
    opened = cal.access("ACME\\rep2", "SalesFlash.qvw", machine="PC-2", idempotency_key="open-rep2-1")
    again = cal.access("ACME\\rep2", "SalesFlash.qvw", machine="PC-2", idempotency_key="open-rep2-1")
    assert again.session_id == opened.session_id
    assert cal.access("ACME\\rep2", "SalesFlash.qvw", machine="PC-2").session_id != opened.session_id


def test_documents_in_a_subfolder_are_addressed_by_their_path(server: RunningServer, cal: CalkeeperClient) -> None:
    (server.data_dir / "documents" / "Finance").mkdir()
    (server.data_dir / "documents" / "Finance" / "Budget.qvw").write_bytes(b"placeholder\n")
    assert "Finance/Budget.qvw" in {d.path for d in cal.list_documents()}
    changed = cal.update_document("Finance/Budget.qvw", cals_allocated=1, allow_dynamic_assignment=True)
    assert (changed.path, changed.cals_allocated, changed.allow_dynamic_assignment) == ("Finance/Budget.qvw", 1, True)
    cal.assign_document_cals("Finance/Budget.qvw", "ACME\\fiona")
    assert [c.user for c in cal.list_document_cals("Finance/Budget.qvw")] == ["ACME\\fiona"]
    assert cal.remove_document_cal("Finance/Budget.qvw", "ACME\\fiona").document == "Finance/Budget.qvw"


def test_answers_are_the_view_dataclasses_with_real_times_and_dates(cal: CalkeeperClient) -> None:
    license = cal.license()
    assert isinstance(license, LicenseView) and license.maintenance_until == date(2027, 12, 31)
    assert license.applied_at.tzinfo is not None and license.applied_at <= datetime.now(UTC)
    assert all(isinstance(p, PoolView) for p in cal.cal_overview().pools)
    entries = cal.audit(limit=3)
    assert entries and all(isinstance(e, AuditView) and e.at.tzinfo is not None for e in entries)
    assert cal.license_history()[-1].serial == DEMO_SERIAL


def test_an_unreachable_server_raises_server_unavailable_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with CalkeeperClient(url, "ck_any", timeout=2) as client, pytest.raises(ServerUnavailable) as down:
        client.cal_overview()
    assert isinstance(down.value, StoreUnavailable) and down.value.code == "server_unavailable"
    assert f"cannot reach the calkeeper server at {url}" in down.value.message


def test_the_async_client_makes_the_same_calls(server: RunningServer) -> None:
    async def scenario() -> None:
        async with AsyncCalkeeperClient(server.url, server.admin_token) as cal:
            # any number of sessions from one machine (a second machine would be refused)
            answers = await asyncio.gather(*(cal.access("ACME\\rep1", "SalesFlash.qvw", machine="PC-1")
                                             for _ in range(5)))
            assert all(a.granted and a.cal_type == "document" for a in answers)
            assert len({a.session_id for a in answers}) == 5
            assert (await cal.cal_overview()).licensed
            with pytest.raises(UnknownDocument):
                await cal.access("ACME\\rep1", "Nope.qvw")
            first = await cal.assign_document_cals("SalesFlash.qvw", "ACME\\astrid", idempotency_key="astrid-1")
            retry = await cal.assign_document_cals("SalesFlash.qvw", "ACME\\astrid", idempotency_key="astrid-1")
            assert [o.outcome for o in first] == [o.outcome for o in retry] == ["assigned"]
            assert [c.user for c in await cal.list_document_cals("SalesFlash.qvw")].count("ACME\\astrid") == 1
        async with AsyncCalkeeperClient(f"http://127.0.0.1:{free_port()}", "ck_any", timeout=2) as down:
            with pytest.raises(ServerUnavailable):
                await down.license()

    asyncio.run(scenario())



def test_both_clients_list_the_files_in_the_root_folder_that_cannot_be_served(server: RunningServer,
                                                                              cal: CalkeeperClient) -> None:
    odd = server.data_dir / "documents" / "Odd\\Name.qvw"
    odd.write_bytes(b"placeholder\n")

    async def listed() -> list[DocumentProblem]:
        async with AsyncCalkeeperClient(server.url, server.admin_token) as client:
            return await client.document_problems()

    try:
        [problem] = cal.document_problems()
        assert isinstance(problem, DocumentProblem)
        assert problem.path == "Odd\\Name.qvw" and "backslash" in problem.reason
        assert asyncio.run(listed()) == [problem]
    finally:
        odd.unlink()
    assert cal.document_problems() == []

# The CLI in remote mode


def test_the_cli_shows_a_remote_servers_pools_documents_and_license(
    server: RunningServer, cal: CalkeeperClient
) -> None:
    assert json.loads(server.cli("cal", "show", "--json").stdout) == to_json(cal.cal_overview())
    assert "SalesFlash.qvw" in server.cli("doc", "list").stdout
    shown = server.cli("license", "show").stdout
    assert DEMO_SERIAL in shown and "ACME Corporation" in shown
    by_env = subprocess.run([*CLI, "license", "history", "--json"], capture_output=True, text=True, timeout=60,
                            env={**server.env, "CALKEEPER_SERVER": server.url, "CALKEEPER_TOKEN": server.admin_token})
    assert by_env.returncode == 0, by_env.stderr
    assert json.loads(by_env.stdout)[-1]["serial"] == DEMO_SERIAL


def test_the_cli_opens_and_closes_through_the_server_and_exits_1_when_refused_2_on_bad_input(
    server: RunningServer, cal: CalkeeperClient
) -> None:
    opened = server.cli("open", "ACME\\rep2", "SalesFlash.qvw", "--machine", "PC-2")
    assert "GRANTED with a Document CAL" in opened.stdout
    session = opened.stdout.split("Session: ")[1].split()[0]
    assert "stays assigned" in server.cli("close", session).stdout
    retire(server, cal, "Closed Analytix.qvw")
    denied = server.cli("open", "ACME\\rep2", "Closed Analytix.qvw", expect=1)
    assert "DENIED: the document Closed Analytix.qvw is missing" in denied.stderr
    assert "unknown_document" in server.cli("open", "ACME\\rep2", "Nope.qvw", expect=2).stderr
    assert "allocation_refused" in server.cli("doc", "allocate", "SalesFlash.qvw", "1000", expect=1).stderr
    bad = server.cli("cal", "assign", "ACME\\xena;not-a-user", expect=2)
    assert "nothing was applied" in bad.stderr and "not-a-user" in bad.stderr
    rows = json.loads(server.cli("denials", "--limit", "1", "--json").stdout)
    assert (rows[0]["user_name"], rows[0]["document"]) == ("ACME\\rep2", "Closed Analytix.qvw")


def test_the_cli_removes_and_restores_a_list_of_users_on_the_server(server: RunningServer) -> None:
    done = server.cli("doc", "assign", "AR Analytix.qvw", "ACME\\pia;ACME\\paul")
    assert "ACME\\pia: assigned" in done.stdout and "ACME\\paul: assigned" in done.stdout
    removed = server.cli("doc", "remove", "AR Analytix.qvw", "ACME\\pia;ACME\\paul").stdout
    assert removed.count("freed at once") == 2
    assert "not_quarantined" in server.cli("doc", "restore", "AR Analytix.qvw", "ACME\\pia", expect=1).stderr
    users = json.loads(server.cli("doc", "users", "AR Analytix.qvw", "--json").stdout)
    assert "ACME\\pia" not in {u["user"] for u in users} and "ACME\\carol" in {u["user"] for u in users}
    invalid = server.cli("cal", "remove", "ACME\\alice;bad name", expect=2)
    assert "nothing was applied" in invalid.stderr
    assert "ACME\\alice" in {c["user"] for c in json.loads(server.cli("cal", "list", "--json").stdout)["items"]}


def test_the_cli_reads_a_users_cals_and_the_audit_trail_from_the_server(
    server: RunningServer, cal: CalkeeperClient
) -> None:
    cal.update_cal_settings(allow_dynamic_assignment=False)
    try:
        assert "Session CAL" in server.cli("open", "ACME\\sam", "Contract Analytix.qvw", "--machine", "PC-9").stdout
    finally:
        cal.update_cal_settings(allow_dynamic_assignment=True)
    shown = server.cli("user", "ACME\\sam").stdout
    assert "Session CAL" in shown and "PC-9 / ajax" in shown
    held = json.loads(server.cli("user", "ACME\\sam", "--json").stdout)["session_cals"]
    assert [(s["machine"], s["client"]) for s in held] == [("PC-9", "ajax")]
    trail = json.loads(server.cli("audit", "--limit", "2", "--action", "cal.settings_changed", "--json").stdout)
    assert [e["details"] for e in trail] == [{"allow_dynamic_assignment": True}, {"allow_dynamic_assignment": False}]
    assert all(e["actor"].startswith("token:demo-admin-") for e in trail)


def test_commands_that_work_on_this_machine_say_they_run_only_on_a_local_data_dir(server: RunningServer) -> None:
    for command in (["serve"], ["demo"], ["authority", "init"]):
        refused = server.cli(*command, expect=2)
        assert "runs only against a local data dir" in refused.stderr, command
    assert "Usage" in server.cli("serve", "--help").stdout
    assert "demo-admin-" in server.cli("token", "list").stdout  # tokens are managed through a server too


def test_the_cli_says_why_it_cannot_talk_to_a_server(server: RunningServer) -> None:
    assert "unauthorized" in server.cli("cal", "show", token="ck_wrong", expect=1).stderr
    no_token = subprocess.run([*CLI, "--server", server.url, "cal", "show"], env=server.env, capture_output=True,
                              text=True, timeout=60)
    assert no_token.returncode == 2 and "needs an API token" in no_token.stderr
    url = f"http://127.0.0.1:{free_port()}"
    down = subprocess.run([*CLI, "--server", url, "--token", "ck_any", "cal", "show"], env=server.env,
                          capture_output=True, text=True, timeout=60)
    assert down.returncode == 1 and f"cannot reach the calkeeper server at {url}" in down.stderr
    both = server.cli("--data-dir", str(server.data_dir), "cal", "show", expect=2)
    assert "give either --server or --data-dir" in both.stderr


def test_clearing_cal_data_through_the_server_writes_the_backup_on_the_server(tmp_path: Path) -> None:
    with running_server(tmp_path / "site") as own:
        assert "--backup names a file on this machine" in own.cli("clear-cal-data", "--yes", "--backup", "x.json",
                                                                 expect=2).stderr
        cleared = own.cli("clear-cal-data", "--yes").stdout
        assert "CAL data cleared" in cleared and "on the site's host" in cleared
        assert [p.name[:13] for p in (own.data_dir / "backups").iterdir()] == ["before-clear-"]
        assert json.loads(own.cli("cal", "list", "--json").stdout)["items"] == []

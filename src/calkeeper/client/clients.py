"""``CalkeeperClient`` (blocking) and ``AsyncCalkeeperClient``: the same methods, on httpx."""

from __future__ import annotations

from typing import Any

import httpx

from calkeeper.client.calls import AccessResult, Call, Calls
from calkeeper.client.errors import error_from_response
from calkeeper.contract.views import (
    AssignedCal,
    AssignOutcome,
    AuditView,
    CalOverview,
    CalPage,
    CalSettings,
    ClearOutcome,
    DocumentView,
    LicenseChange,
    LicenseUpdate,
    LicenseView,
    RemovalOutcome,
    SessionEnd,
    UserCals,
)
from calkeeper.core import errors as e


class _Base:
    """What both clients share: the URL and token, how a request is sent and its answer read."""

    def __init__(self, base_url: str, token: str, timeout: float) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise e.InvalidInput(f"the server URL must start with http:// or https:// (got '{base_url}')")
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": "calkeeper-client/0.1"}

    @staticmethod
    def _request(call: Call) -> dict[str, Any]:
        headers = {"Idempotency-Key": call.idempotency_key} if call.idempotency_key else None
        return {"method": call.method, "url": call.path, "json": call.json, "params": call.params, "headers": headers}

    def _unreachable(self, error: httpx.TransportError) -> e.ServerUnavailable:
        if isinstance(error, httpx.TimeoutException):
            return e.ServerUnavailable(f"the calkeeper server at {self.base_url} did not answer "
                                       f"within {self.timeout:g} s")
        return e.ServerUnavailable(f"cannot reach the calkeeper server at {self.base_url}: "
                                   f"{str(error) or type(error).__name__}")

    @staticmethod
    def _read(call: Call, response: httpx.Response) -> Any:
        if response.is_error:
            raise error_from_response(response)
        try:
            return call.parse(response.json())
        except (ValueError, TypeError, KeyError) as error:
            raise e.CalkeeperError(f"the answer of {response.request.url} is not what this client expects: {error}",
                                   code="bad_response") from None


class CalkeeperClient(_Base):
    """The CAL server's REST API, one blocking call per method; use it as a context manager or close() it.

    POSTs take an ``idempotency_key``: a retry with the same key is answered, not run again.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, token, timeout)
        self._http = httpx.Client(base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport)

    def _run(self, call: Call) -> Any:
        try:
            response = self._http.request(**self._request(call))
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        return self._read(call, response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CalkeeperClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def access(self, user: str | None, document: str, machine: str | None = None, client: str = "ajax", *,
               idempotency_key: str | None = None) -> AccessResult:
        """May this user (None: anonymous) open this document? A refusal is an answer, not an error."""
        return self._run(Calls.access(user, document, machine, client, idempotency_key))

    def end_session(self, session_id: str, *, idempotency_key: str | None = None) -> SessionEnd:
        """End a session; a Session CAL is held at least 15 minutes from its start."""
        return self._run(Calls.end_session(session_id, idempotency_key))

    def license(self) -> LicenseView:
        """The license in force; NoLicense when there is none."""
        return self._run(Calls.license())

    def apply_license(self, *, serial: str, control: str, owner: str, organization: str,
                      lef: str | None = None) -> LicenseView:
        """Apply a license; LicenseRejected (its code names the failed check) when it cannot be.

        Without a LEF the server fetches it from the license authority.
        """
        return self._run(Calls.apply_license(serial, control, owner, organization, lef))

    def update_license(self, *, idempotency_key: str | None = None) -> LicenseUpdate:
        """Update license from server: the server fetches the newest LEF for its serial and applies it."""
        return self._run(Calls.update_license(idempotency_key))

    def license_history(self) -> list[LicenseChange]:
        """Every license applied, newest first."""
        return self._run(Calls.license_history())

    def cal_overview(self) -> CalOverview:
        """Pools per CAL type and the server-wide settings."""
        return self._run(Calls.cal_overview())

    def update_cal_settings(self, *, allow_dynamic_assignment: bool | None = None,
                            allow_license_lease: bool | None = None,
                            identification_mode: str | None = None) -> CalSettings:
        """Change the server-wide settings given; the others stay."""
        return self._run(Calls.update_cal_settings(allow_dynamic_assignment, allow_license_lease,
                                                    identification_mode))

    def list_named_cals(self, *, after: str = "", limit: int = 100, search: str = "") -> CalPage:
        """Assigned Named CALs, a page at a time (pass a page's next_after as after)."""
        return self._run(Calls.list_named_cals(after, limit, search))

    def assign_named_cals(self, users: str | list[str], *, idempotency_key: str | None = None) -> list[AssignOutcome]:
        """Assign Named CALs to a ';' list or a list of users; all or nothing."""
        return self._run(Calls.assign_named_cals(users, idempotency_key))

    def remove_named_cal(self, user: str) -> RemovalOutcome:
        """Remove a Named CAL: freed at once, or quarantined until last used + 7 days."""
        return self._run(Calls.remove_named_cal(user))

    def restore_named_cal(self, user: str, *, idempotency_key: str | None = None) -> AssignOutcome:
        """Undo a Named CAL removal while it is quarantined."""
        return self._run(Calls.restore_named_cal(user, idempotency_key))

    def list_documents(self) -> list[DocumentView]:
        """The documents of the root folder with their allocation."""
        return self._run(Calls.list_documents())

    def document(self, document: str) -> DocumentView:
        """One document, matched as the access gate matches it."""
        return self._run(Calls.document(document))

    def update_document(self, document: str, *, cals_allocated: int | None = None,
                        allow_dynamic_assignment: bool | None = None) -> DocumentView:
        """Set the CALs allocated to a document and its dynamic CAL assignment."""
        return self._run(Calls.update_document(document, cals_allocated, allow_dynamic_assignment))

    def list_document_cals(self, document: str) -> list[AssignedCal]:
        """Users holding Document CALs for the document."""
        return self._run(Calls.list_document_cals(document))

    def assign_document_cals(self, document: str, users: str | list[str], *,
                             idempotency_key: str | None = None) -> list[AssignOutcome]:
        """Assign Document CALs out of the document's allocation; all or nothing."""
        return self._run(Calls.assign_document_cals(document, users, idempotency_key))

    def remove_document_cal(self, document: str, user: str) -> RemovalOutcome:
        """Remove a Document CAL: freed at once, or quarantined until last used + 7 days."""
        return self._run(Calls.remove_document_cal(document, user))

    def restore_document_cal(self, document: str, user: str, *, idempotency_key: str | None = None) -> AssignOutcome:
        """Undo a Document CAL removal while it is quarantined."""
        return self._run(Calls.restore_document_cal(document, user, idempotency_key))

    def user_cals(self, user: str) -> UserCals:
        """Every CAL a user holds, of every type."""
        return self._run(Calls.user_cals(user))

    def clear_cal_data(self, *, idempotency_key: str | None = None) -> ClearOutcome:
        """Remove every CAL assignment, allocation, quarantine, session and usage record (the server backs up first)."""
        return self._run(Calls.clear_cal_data(idempotency_key))

    def audit(self, *, limit: int = 100, action: str = "", target: str = "") -> list[AuditView]:
        """Who changed what, when (newest first)."""
        return self._run(Calls.audit(limit, action, target))

    def denials(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Opens that were refused, newest first."""
        return self._run(Calls.denials(limit))


class AsyncCalkeeperClient(_Base):
    """The same methods as CalkeeperClient, awaitable, on one httpx.AsyncClient; ``async with`` or aclose() it."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, token, timeout)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=timeout,
                                       transport=transport)

    async def _run(self, call: Call) -> Any:
        try:
            response = await self._http.request(**self._request(call))
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        return self._read(call, response)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncCalkeeperClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def access(self, user: str | None, document: str, machine: str | None = None, client: str = "ajax", *,
                     idempotency_key: str | None = None) -> AccessResult:
        return await self._run(Calls.access(user, document, machine, client, idempotency_key))

    async def end_session(self, session_id: str, *, idempotency_key: str | None = None) -> SessionEnd:
        return await self._run(Calls.end_session(session_id, idempotency_key))

    async def license(self) -> LicenseView:
        return await self._run(Calls.license())

    async def apply_license(self, *, serial: str, control: str, owner: str, organization: str,
                            lef: str | None = None) -> LicenseView:
        return await self._run(Calls.apply_license(serial, control, owner, organization, lef))

    async def update_license(self, *, idempotency_key: str | None = None) -> LicenseUpdate:
        return await self._run(Calls.update_license(idempotency_key))

    async def license_history(self) -> list[LicenseChange]:
        return await self._run(Calls.license_history())

    async def cal_overview(self) -> CalOverview:
        return await self._run(Calls.cal_overview())

    async def update_cal_settings(self, *, allow_dynamic_assignment: bool | None = None,
                                  allow_license_lease: bool | None = None,
                                  identification_mode: str | None = None) -> CalSettings:
        return await self._run(Calls.update_cal_settings(allow_dynamic_assignment, allow_license_lease,
                                                          identification_mode))

    async def list_named_cals(self, *, after: str = "", limit: int = 100, search: str = "") -> CalPage:
        return await self._run(Calls.list_named_cals(after, limit, search))

    async def assign_named_cals(self, users: str | list[str], *,
                                idempotency_key: str | None = None) -> list[AssignOutcome]:
        return await self._run(Calls.assign_named_cals(users, idempotency_key))

    async def remove_named_cal(self, user: str) -> RemovalOutcome:
        return await self._run(Calls.remove_named_cal(user))

    async def restore_named_cal(self, user: str, *, idempotency_key: str | None = None) -> AssignOutcome:
        return await self._run(Calls.restore_named_cal(user, idempotency_key))

    async def list_documents(self) -> list[DocumentView]:
        return await self._run(Calls.list_documents())

    async def document(self, document: str) -> DocumentView:
        return await self._run(Calls.document(document))

    async def update_document(self, document: str, *, cals_allocated: int | None = None,
                              allow_dynamic_assignment: bool | None = None) -> DocumentView:
        return await self._run(Calls.update_document(document, cals_allocated, allow_dynamic_assignment))

    async def list_document_cals(self, document: str) -> list[AssignedCal]:
        return await self._run(Calls.list_document_cals(document))

    async def assign_document_cals(self, document: str, users: str | list[str], *,
                                   idempotency_key: str | None = None) -> list[AssignOutcome]:
        return await self._run(Calls.assign_document_cals(document, users, idempotency_key))

    async def remove_document_cal(self, document: str, user: str) -> RemovalOutcome:
        return await self._run(Calls.remove_document_cal(document, user))

    async def restore_document_cal(self, document: str, user: str, *,
                                   idempotency_key: str | None = None) -> AssignOutcome:
        return await self._run(Calls.restore_document_cal(document, user, idempotency_key))

    async def user_cals(self, user: str) -> UserCals:
        return await self._run(Calls.user_cals(user))

    async def clear_cal_data(self, *, idempotency_key: str | None = None) -> ClearOutcome:
        return await self._run(Calls.clear_cal_data(idempotency_key))

    async def audit(self, *, limit: int = 100, action: str = "", target: str = "") -> list[AuditView]:
        return await self._run(Calls.audit(limit, action, target))

    async def denials(self, *, limit: int = 100) -> list[dict[str, Any]]:
        return await self._run(Calls.denials(limit))

"""A client of the CAL server's REST API for app servers and scripts: sync and async, on httpx.

    with CalkeeperClient("http://cal.acme.local:8080", token) as cal:
        answer = cal.access("ACME\\rep1", "SalesFlash.qvw", machine="PC-17")
        if not answer.granted:
            print(answer.reason)

    async with AsyncCalkeeperClient("http://cal.acme.local:8080", token) as cal:
        answer = await cal.access("ACME\\rep1", "SalesFlash.qvw", machine="PC-17")

A refused open is an answer (``granted`` false, with ``reason`` and ``code``), not an error. Errors are
the ``calkeeper.core.errors`` classes rebuilt from the server's ``{"error": {code, message, details}}``
(same code, message and details), two of them the client's own (also exported here):

    CalkeeperError
    ├── ApiAuthError           no token, a wrong or revoked one, or a role that may not do this (401, 403, 429)
    ├── InvalidInput, NotFound, Refused, ...   as the server raised them; LicenseRejected keeps the
    │                          failed license check as its code
    └── StoreUnavailable
        └── ServerUnavailable  the server cannot be reached, or did not answer in time

Views come back as the dataclasses of ``calkeeper.contract.views``, as the local site returns them.
``RemoteSite`` offers a server as ``calkeeper.contract.SiteOperations``, the local site's interface:

    site = RemoteSite("http://cal.acme.local:8080", token)
    site.assign_named_cals("ACME\\alice;ACME\\bob")

This package loads httpx, ``calkeeper.core`` and ``calkeeper.contract`` only: an app server embeds it
without the server's database, web and CLI libraries.
"""

from calkeeper.client import lean_httpx  # noqa: F401  (first: httpx without its command-line tool)

# isort: split
from calkeeper.client.async_client import AsyncCalkeeperClient
from calkeeper.client.calls import AccessResult
from calkeeper.client.errors import error_from_response
from calkeeper.client.remote import RemoteSite
from calkeeper.client.sync_client import CalkeeperClient
from calkeeper.core.errors import ApiAuthError, ServerUnavailable

__all__ = ["AccessResult", "ApiAuthError", "AsyncCalkeeperClient", "CalkeeperClient", "RemoteSite",
           "ServerUnavailable", "error_from_response"]

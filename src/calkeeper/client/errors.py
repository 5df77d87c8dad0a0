"""The server's error JSON turned back into calkeeper errors, their class read from the table of codes."""

from __future__ import annotations

import httpx

from calkeeper.core import errors as e
from calkeeper.core.error_codes import class_for


def error_from_response(response: httpx.Response) -> e.CalkeeperError:
    """The calkeeper error an error answer stands for, with the server's code, message and details."""
    where = str(response.request.url)
    try:
        error = response.json()["error"]
        code, message, details = str(error["code"]), str(error["message"]), error.get("details")
    except (ValueError, KeyError, TypeError):
        if response.status_code in {502, 503, 504}:
            return e.ServerUnavailable(f"the calkeeper server behind {where} is not available "
                                       f"(HTTP {response.status_code})")
        return e.CalkeeperError(f"{where} answered HTTP {response.status_code} without calkeeper's error JSON; "
                                "is the server URL right?", code="bad_response")
    return class_for(code, response.status_code)(message, code=code, details=details)

"""Request bodies of the REST API (responses are the use cases' views)."""

from __future__ import annotations

from typing import Literal, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from calkeeper.contract.views import TokenView
from calkeeper.core.cals import ClientType
from calkeeper.core.lef import MAX_LEF_BYTES


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


BodyModel = TypeVar("BodyModel", bound=BaseModel)


class AccessRequest(Body):
    user: str | None = Field(None, max_length=300, description="DOMAIN\\user; empty or absent: anonymous")
    document: str = Field(..., min_length=1, max_length=1000)
    machine: str | None = Field(None, max_length=200)
    client: ClientType = ClientType.AJAX


class AccessAnswer(BaseModel):
    granted: bool
    cal_type: str | None = None
    session_id: str | None = None
    user: str | None = None
    document: str
    reason: str
    code: str | None = None
    dynamic: bool = False
    cal_id: int | None = Field(None, description="The Named or Document CAL used, when one was")
    degraded: bool = Field(False, description="Answered from the node's memory while the CAL database was "
                                              "unavailable (the header X-Calkeeper-Degraded says so too)")


class LicenseRequest(Body):
    serial: str = Field(..., max_length=40)
    control: str = Field(..., max_length=20)
    owner: str = Field(..., max_length=200)
    organization: str = Field(..., max_length=200)
    # No max_length: a LEF over MAX_LEF_BYTES is refused by the license check, as the CLI refuses it.
    lef: str | None = Field(None, description=f"The LEF text exactly as the vendor sent it, at most {MAX_LEF_BYTES:,} "
                            "bytes; null: fetched from the license authority (CALKEEPER_AUTHORITY_URL)")


# Booleans are JSON's true and false only: "yes", 1 or "true" are refused, not read as true.
class SettingsPatch(Body):
    allow_dynamic_assignment: StrictBool | None = None
    allow_license_lease: StrictBool | None = None
    identification_mode: Literal["user", "machine"] | None = None


class UsersRequest(Body):
    users: str | list[str] = Field(..., description="'DOMAIN\\u1;DOMAIN\\u2' or a list of names")


class DocumentPatch(Body):
    cals_allocated: int | None = Field(None, ge=-(2**31), le=2**31 - 1)
    allow_dynamic_assignment: StrictBool | None = None


class ClearRequest(Body):
    confirm: StrictBool = Field(..., description="Must be true: every CAL assignment is removed (a backup is "
                                                 "written first)")


# The site checks names, roles and passwords itself, with the messages the CLI shows for a local site:
# these bounds only keep bodies small.
class TokenRequest(Body):
    name: str = Field(..., max_length=1000, description="1 to 100 characters")
    role: str = Field(..., max_length=100, description="admin, viewer or gate")


class TokenCreated(BaseModel):
    token: TokenView
    secret: str = Field(..., description="Shown this once: only its hash is kept")


class ConsoleUserRequest(Body):
    username: str = Field(..., max_length=1000, description="1 to 100 characters, no spaces")
    password: str = Field(..., max_length=1000, description="At least 10 characters; not blank, one character "
                          "repeated, the user name or a common password")
    role: str = Field("admin", max_length=100, description="admin or viewer")
    replace: StrictBool = Field(False, description="Set a new password and role for an existing user")


class SessionsEnded(BaseModel):
    """A console user's sessions, ended."""

    username: str
    ended: int = Field(description="How many sessions were open")


class QueryParameters(BaseModel):
    """The query of a GET that takes some: an unknown parameter (a misspelt ``limt``) is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class NamedCalsQuery(QueryParameters):
    after: str = Field("", max_length=300, description="Start after this user (next_after)")
    limit: int = Field(100, ge=1, le=1000)
    search: str = Field("", max_length=300, description="Only users whose name contains this")


class CalExportQuery(QueryParameters):
    format: Literal["csv", "json"] = Field("csv", description="CSV (one row a CAL) or JSON")


class AuditQuery(QueryParameters):
    limit: int = Field(100, ge=1, le=10000)
    action: str = Field("", max_length=60)
    target: str = Field("", max_length=300)


class DenialsQuery(QueryParameters):
    limit: int = Field(100, ge=1, le=10000)


def parse_body(model: type[BodyModel], content: bytes) -> BodyModel:
    """Validate a raw JSON body the way FastAPI would, raising its validation error for the one error shape."""
    try:
        return model.model_validate_json(content or b"null")
    except ValidationError as error:
        problems = [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        raise RequestValidationError(problems) from None

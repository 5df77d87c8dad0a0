"""The license authority's settings (``CALKEEPER_AUTHORITY_*`` and the command line); they fail closed.

Layout of the authority's folder (default ``<data dir>/authority``):
    authority.db    the SQLite database (CALKEEPER_AUTHORITY_DATABASE_URL or --db for PostgreSQL)
    keys/           the signing keys: <key id>.key (private, 0600), <key id>.pub, and ``active``
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from calkeeper.core.errors import InvalidInput
from calkeeper.infra.settings import default_data_dir, known_database


class AuthoritySettings(BaseSettings):
    """Where the license authority keeps its database and its signing keys."""

    model_config = SettingsConfigDict(env_prefix="CALKEEPER_AUTHORITY_", extra="ignore")

    dir: Path = Field(default_factory=lambda: default_data_dir() / "authority")
    database_url: str | None = None

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        return known_database(value)

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.dir / 'authority.db'}"

    @property
    def keys_dir(self) -> Path:
        return self.dir / "keys"


def load_authority_settings(**overrides: object) -> AuthoritySettings:
    """Read the authority's settings, turning a bad value into an error an admin can act on."""
    try:
        return AuthoritySettings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'setting'}: {e['msg']}" for e in error.errors())
        raise InvalidInput(f"the authority's configuration is not valid: {problems}") from None

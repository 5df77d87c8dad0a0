"""The users a site has seen, with the first spelling of each name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from calkeeper.core.comparison import comparison_key
from calkeeper.core.identities import Identity
from calkeeper.infra.database import UtcDateTime, table_of
from calkeeper.store.schema import User

user_t = table_of(User)
INSERT_NEW_USER = text(
    "INSERT INTO users (key, name, first_seen) VALUES (:key, :name, :first_seen) ON CONFLICT DO NOTHING RETURNING name"
).bindparams(bindparam("first_seen", type_=UtcDateTime()))
SHOWN_NAME = select(user_t.c.name).where(user_t.c.key == bindparam("key"))
# PostgreSQL, one round trip for a name new or known: the row inserted, else the one there. The statement reads
# as of when it began: a row another transaction inserted meanwhile (its insert waited for that one) is read next.
REMEMBER_PG = text(
    "WITH new AS (INSERT INTO users (key, name, first_seen) VALUES (:key, :name, :first_seen) ON CONFLICT DO NOTHING "
    "RETURNING name) SELECT name FROM new UNION ALL SELECT name FROM users WHERE key = :key"
).bindparams(bindparam("first_seen", type_=UtcDateTime()))


class Users:
    def __init__(self, connection: Connection, now: datetime, *, postgres: bool) -> None:
        self.connection = connection
        self.now = now
        self.postgres = postgres

    def remember(self, identities: list[Identity]) -> dict[str, str]:
        """Record names first seen now and return the displayed spelling of each key."""
        users = [i for i in identities if i.kind == "user"]
        if len(users) == 1 and len(identities) == 1:  # an open: one statement when the name is new
            return {users[0].key: self._remember_one(users[0])}
        if users:
            maker = pg_insert if self.postgres else sqlite_insert
            rows = [{"key": i.key, "name": i.name, "first_seen": self.now} for i in users]
            # executemany, not .values(rows): a multi-row VALUES statement is compiled anew on every call
            self.connection.execute(maker(user_t).on_conflict_do_nothing(index_elements=["key"]), rows)
        keys = [i.key for i in users]
        names = dict(self.connection.execute(select(user_t.c.key, user_t.c.name).where(user_t.c.key.in_(keys))).all())
        return {i.key: names.get(i.key, i.name) for i in identities}

    def _remember_one(self, user: Identity) -> str:
        """One statement for a name seen before (most opens that reach the database), two for a new one."""
        params = {"key": user.key, "name": user.name, "first_seen": self.now}
        if self.postgres:
            shown = self.connection.execute(REMEMBER_PG, params).scalar()
        elif (shown := self.connection.execute(SHOWN_NAME, {"key": user.key}).scalar()) is None:
            shown = self.connection.execute(INSERT_NEW_USER, params).scalar()
        if shown is not None:
            return str(shown)
        return str(self.connection.execute(SHOWN_NAME, {"key": user.key}).scalar_one())

    def search(self, text: str = "", *, limit: int = 100, offset: int = 0) -> list[Identity]:
        """Users whose name contains the text, in name order."""
        query = select(user_t.c.name, user_t.c.key).order_by(user_t.c.key).limit(limit).offset(offset)
        if text:
            query = query.where(user_t.c.key.contains(comparison_key(text), autoescape=True))
        return [Identity(name, key, "user") for name, key in self.connection.execute(query)]

    def count(self, text: str = "") -> int:
        """How many users' names contain the text."""
        query = select(func.count()).select_from(user_t)
        if text:
            query = query.where(user_t.c.key.contains(comparison_key(text), autoescape=True))
        return int(self.connection.execute(query).scalar_one())

    def shown_name(self, identity: Identity) -> str:
        """The first spelling seen of a user's name (the name as given when it was never seen)."""
        name = self.connection.execute(select(user_t.c.name).where(user_t.c.key == identity.key)).scalar()
        return str(name) if name is not None else identity.name

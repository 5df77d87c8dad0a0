"""One transaction per use case: opened by the use case, committed once, rolled back on any error.

A ``Transaction`` is the use case's way into the store: one repository per kind of record, each
made on first use, all on the one connection. Repositories return the core's values, never rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from functools import cached_property

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from calkeeper.core.clock import Clock
from calkeeper.core.errors import StoreUnavailable
from calkeeper.infra.database import without_password
from calkeeper.store.activity import Activity
from calkeeper.store.alerts import Alerts
from calkeeper.store.assignments import Assignments
from calkeeper.store.auth_failures import AuthFailures
from calkeeper.store.cal_data import SiteData
from calkeeper.store.cal_transfer import CalTransfer
from calkeeper.store.claims import Claims
from calkeeper.store.console_users import ConsoleUsers
from calkeeper.store.directory import BuiltinDirectoryRecords, GroupRules
from calkeeper.store.documents import Documents
from calkeeper.store.exports import Exports
from calkeeper.store.first_claims import FirstClaims
from calkeeper.store.group_commit import GroupCommit, WriterTurns
from calkeeper.store.history import History
from calkeeper.store.idempotency import IdempotencyKeys
from calkeeper.store.leases import Leases
from calkeeper.store.licenses import Licenses
from calkeeper.store.sessions import Sessions
from calkeeper.store.site_state import SiteStateRepository
from calkeeper.store.tail_writes import TailWrites
from calkeeper.store.tokens import Tokens
from calkeeper.store.users import Users

log = logging.getLogger("calkeeper.store")


class Transaction:
    """What a use case works with inside its one transaction: the time it runs at, and the repositories."""

    def __init__(self, connection: Connection, now: datetime, *, postgres: bool, node: str | None = None,
                 before_pool_lock: Callable[[], None] | None = None) -> None:
        self.connection = connection
        self.now = now
        self.postgres = postgres
        self.node = node
        self.tail = TailWrites(connection, postgres=postgres)  # inserts never read back, sent with the commit
        self.claims = Claims(connection, now, postgres=postgres, node=node, tail=self.tail,  # the allocation port
                             before_pool_lock=before_pool_lock)
        # what to undo in memory when the transaction does not commit (counts taken to be written, say)
        self.if_not_committed: list[Callable[[], None]] = []

    @cached_property
    def first_claims(self) -> FirstClaims:
        return FirstClaims(self.connection, self.now, postgres=self.postgres, node=self.node)

    @cached_property
    def site_state(self) -> SiteStateRepository:
        return SiteStateRepository(self.connection)

    @cached_property
    def licenses(self) -> Licenses:
        return Licenses(self.connection, self.now)

    @cached_property
    def users(self) -> Users:
        return Users(self.connection, self.now, postgres=self.postgres)

    @cached_property
    def assignments(self) -> Assignments:
        return Assignments(self.connection, self.now, self.claims)

    @cached_property
    def sessions(self) -> Sessions:
        return Sessions(self.connection, self.now)

    @cached_property
    def documents(self) -> Documents:
        return Documents(self.connection, self.now, self.sessions, self.claims)

    @cached_property
    def history(self) -> History:
        return History(self.connection, self.now, postgres=self.postgres, tail=self.tail)

    @cached_property
    def tokens(self) -> Tokens:
        return Tokens(self.connection, self.now)

    @cached_property
    def console_users(self) -> ConsoleUsers:
        return ConsoleUsers(self.connection, self.now)

    @cached_property
    def directory(self) -> BuiltinDirectoryRecords:
        return BuiltinDirectoryRecords(self.connection, self.now)

    @cached_property
    def group_rules(self) -> GroupRules:
        return GroupRules(self.connection, self.now)

    @cached_property
    def auth_failures(self) -> AuthFailures:
        return AuthFailures(self.connection, self.now)

    @cached_property
    def site_data(self) -> SiteData:
        return SiteData(self.connection, self.now, postgres=self.postgres)

    @cached_property
    def leases(self) -> Leases:
        return Leases(self.connection, self.now, postgres=self.postgres)

    @cached_property
    def activity(self) -> Activity:
        return Activity(self.connection, self.now, postgres=self.postgres)

    @cached_property
    def cal_transfer(self) -> CalTransfer:
        return CalTransfer(self.connection, self.now, self.claims)

    @cached_property
    def exports(self) -> Exports:
        return Exports(self.connection)

    @cached_property
    def alerts(self) -> Alerts:
        return Alerts(self.connection, self.now)

    @cached_property
    def idempotency(self) -> IdempotencyKeys:
        return IdempotencyKeys(self.connection, self.now)


class UnitOfWork:
    """Opens transactions on an engine; ``write=True`` ones take the write lock up front on SQLite."""

    def __init__(self, engine: Engine, clock: Clock, *, node: str | None = None, group_commit: bool = False) -> None:
        self.engine = engine
        self.clock = clock
        self.node = node  # this server node's name, recorded on the sessions it grants
        self.postgres = engine.dialect.name == "postgresql"
        # SQLite: concurrent write transactions share one commit; PostgreSQL: they take turns (store.group_commit)
        self.group = GroupCommit(engine) if group_commit and engine.dialect.name == "sqlite" else None
        self.turns = WriterTurns() if group_commit and self.postgres else None
        self.unavailable_since: datetime | None = None  # when the database stopped answering, while it does not

    def close(self) -> None:
        """Let go of what group commit holds open (its lock file)."""
        if self.group is not None:
            self.group.close()

    def read(self) -> AbstractContextManager[Transaction]:
        """A transaction that only reads."""
        return self(write=False)

    def write(self) -> AbstractContextManager[Transaction]:
        """A transaction that changes something (on SQLite it takes the write lock up front)."""
        return self(write=True)

    def snapshot(self) -> AbstractContextManager[Transaction]:
        """A transaction that only reads, all of it as of one moment (PostgreSQL: REPEATABLE READ; SQLite's
        read transactions see one snapshot in WAL mode): a consistent backup while the server writes."""
        return self(write=False, snapshot=True)

    @contextmanager
    def __call__(self, *, write: bool = True, snapshot: bool = False) -> Iterator[Transaction]:
        """Run the body in one transaction; commit when it returns, roll back when it raises."""
        tx: Transaction | None = None
        try:
            if write and self.group is not None:
                with self.group.transaction() as connection:
                    tx = Transaction(connection, self.clock.now(), postgres=self.postgres, node=self.node)
                    yield tx
            else:
                with self._turn_given_back(write), self.engine.connect() as connection:
                    if snapshot and self.postgres:
                        connection = connection.execution_options(isolation_level="REPEATABLE READ")
                    connection = connection.execution_options(calkeeper_write=write)
                    with connection.begin():
                        tx = Transaction(connection, self.clock.now(), postgres=self.postgres, node=self.node,
                                         before_pool_lock=self.turns.take if write and self.turns else None)
                        yield tx
                        tx.tail.commit()  # PostgreSQL: inserts that waited go with the COMMIT, else nothing
        except BaseException as error:
            for undo in tx.if_not_committed if tx is not None else ():
                undo()
            if isinstance(error, OperationalError | DBAPIError):
                self._raise_for(error)
            raise
        if self.unavailable_since is not None:
            log.warning("the CAL database answers again (it was unavailable since %s)", _utc(self.unavailable_since))
            self.unavailable_since = None

    @contextmanager
    def _turn_given_back(self, write: bool) -> Iterator[None]:
        """Give back the turn among this process's pool lockers that the transaction took (where they take
        turns), once it has committed or rolled back; one nested in another leaves it to the outer one."""
        turns = self.turns if write else None
        outer = turns is not None and turns.holding()
        try:
            yield
        finally:
            if turns is not None and not outer:
                turns.give_back()

    def _raise_for(self, error: DBAPIError) -> None:
        """Raise StoreUnavailable where a database error means the database cannot serve now; else return."""
        if "database is locked" in str(error.orig):
            raise StoreUnavailable(
                "the CAL database is busy with other changes and did not answer in time; nothing was "
                "changed. Try again"
            ) from error
        if _is_unavailable(error):
            raise self._unavailable(error) from error

    def _unavailable(self, error: DBAPIError) -> StoreUnavailable:
        """The error callers see names no host, port or database: those go to the log, once per outage."""
        if self.unavailable_since is None:
            self.unavailable_since = self.clock.now()
            log.error("the CAL database cannot be reached: %s", without_password(_short(error), self.engine.url))
        return StoreUnavailable(
            f"the CAL database is unavailable (since {_utc(self.unavailable_since)}); nothing was changed. "
            "Check that it is running; the log says why"
        )


def _is_unavailable(error: DBAPIError) -> bool:
    if error.connection_invalidated or isinstance(error, OperationalError):
        return True
    name = type(error.orig).__name__ if error.orig is not None else ""
    return name in {"OperationalError", "InterfaceError", "AdminShutdown", "ConnectionFailure"}


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _short(error: DBAPIError) -> str:
    text = str(error.orig or error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__

"""SQLite group commit: the write transactions of concurrent callers share one commit.

SQLite runs one writer at a time, and each commit waits for the disk (``synchronous=FULL``). Here,
while one batch commits, the callers that arrive queue; the next of them opens a new batch (one
connection, ``BEGIN IMMEDIATE``), and each caller's use case runs in its own SAVEPOINT on it, one
after the other, so a use case that fails rolls back to its savepoint and undoes nothing of the
others. The caller that finds nobody queued behind it commits the batch. Every caller returns only
after the commit that holds its changes (or raises if that commit failed): an answer is never given
for a change that is not on disk.

A use case that opens a write transaction inside another one (on the same thread) runs in a nested
savepoint of the same batch.

Server processes on one database file take turns through a lock file beside it (``<file>-writer.lock``,
``flock``): a batch waits there for the other process's batch to commit and is woken the moment it
has, where SQLite's own lock would have it poll with growing sleeps (up to 100 ms each). Writers that
do not come through here still take SQLite's lock, so the lock file orders batches but is not what
keeps the database whole.

On PostgreSQL nothing is batched: each write transaction stays its own, and ``WriterTurns`` has a
process's transactions that take a pool's lock take turns in the order they came (see its docstring).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine

from calkeeper.infra.private_paths import PRIVATE_FILE

MAX_BATCH = 64  # use cases per commit at most: a batch holds the write lock while it runs


class TakeTurns:
    """A lock handed to its waiters in the order they came: no caller waits through batch after batch."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.held = False
        self.waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float | None = None) -> bool:
        """Wait for the lock (at most ``timeout`` seconds, if given); whether it is ours."""
        with self.guard:
            if not self.held:
                self.held = True
                return True
            turn = threading.Event()
            self.waiting.append(turn)
        if turn.wait(timeout):
            return True  # the releaser handed the lock over: it is ours
        with self.guard:  # the releaser sets a turn under the guard: is_set() is the last word
            if turn.is_set():
                return True
            self.waiting.remove(turn)
            return False

    def anyone_waiting(self) -> bool:
        with self.guard:
            return bool(self.waiting)

    def release(self) -> None:
        with self.guard:
            if self.waiting:
                self.waiting.popleft().set()
            else:
                self.held = False


class _WriterLock:
    """The lock file server processes on one SQLite file take turns through (none for an in-memory database)."""

    def __init__(self, engine: Engine) -> None:
        database = engine.url.database
        self.fd: int | None = None
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            self.fd = os.open(path.with_name(f"{path.name}-writer.lock"), os.O_RDWR | os.O_CREAT, PRIVATE_FILE)

    def acquire(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Batch:
    def __init__(self, engine: Engine, lock: _WriterLock) -> None:
        self.lock = lock
        lock.acquire()
        try:
            self.connection = engine.connect().execution_options(calkeeper_write=True)
            self.transaction = self.connection.begin()
        except BaseException:
            lock.release()
            raise
        self.members = 0
        self.done = threading.Event()
        self.error: BaseException | None = None

    def commit(self) -> None:
        try:
            self.transaction.commit()
        except BaseException as error:
            self.error = error
            raise
        finally:
            self.connection.close()
            self.lock.release()
            self.done.set()


class GroupCommit:
    """Write transactions on one SQLite engine, committed in batches (see the module's docstring)."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.mutex = TakeTurns()
        self.batch: _Batch | None = None
        self.local = threading.local()
        self.writer_lock = _WriterLock(engine)

    def close(self) -> None:
        self.writer_lock.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection whose changes are committed, with the batch's, before this returns."""
        if getattr(self.local, "depth", 0):  # inside a use case of this thread's: a nested savepoint
            assert self.batch is not None
            with self.batch.connection.begin_nested():
                yield self.batch.connection
            return
        self.mutex.acquire()
        batch: _Batch | None = None
        failed = False
        try:
            batch = self.batch
            if batch is None:
                batch = self.batch = _Batch(self.engine, self.writer_lock)
            batch.members += 1
            savepoint = batch.connection.begin_nested()
            self.local.depth = 1
            try:
                yield batch.connection
            except BaseException:
                failed = True
                if savepoint.is_active:
                    savepoint.rollback()
                raise
            finally:
                self.local.depth = 0
            savepoint.commit()
        finally:
            try:
                if batch is not None:
                    last = not self.mutex.anyone_waiting() or batch.members >= self.max_batch
                    if last:
                        self.batch = None
                        try:
                            batch.commit()
                        except BaseException:
                            if not failed:
                                raise
            finally:
                self.mutex.release()
        batch.done.wait()
        if batch.error is not None:
            raise batch.error


class WriterTurns:
    """PostgreSQL: a process's transactions that take a pool's lock take turns, in the order they came.

    Every claim takes its pool's row lock, so claims run one after the other whatever a process does.
    Left to themselves, a process's threads all wait on that row lock, and the one that holds it must win
    the interpreter lock back from the others after each statement. Waiting here instead, they are asleep:
    the holder's statements follow each other at once. Over HTTP, first-time opens keep their rate (two
    processes gain on it) and their p99 halves (``docs/write-path.md``).

    A transaction takes its turn just before its first pool lock (``take``) and gives it back when it has
    committed or rolled back (``give_back``). Transactions that lock no pool (a holder's first open on this
    node, which only starts a session, or the upkeep writing sessions) never wait here, so they run side by
    side. A transaction waiting for its turn may hold a lock the turn's holder needs (two first opens of
    one new user, say), which the database cannot see as a deadlock: so a turn is waited for at most
    ``wait_at_most`` seconds, after which the transaction goes on without one, to the database's own lock.
    A transaction nested in another on the same thread shares the outer one's turn.
    """

    def __init__(self, wait_at_most: float = 1.0) -> None:
        self.turns = TakeTurns()
        self.wait_at_most = wait_at_most
        self.local = threading.local()

    def holding(self) -> bool:
        """Whether this thread holds the turn."""
        return bool(getattr(self.local, "holding", False))

    def take(self) -> None:
        """Wait for this thread's turn, unless it holds it (or the wait runs past ``wait_at_most``)."""
        if not self.holding():
            self.local.holding = self.turns.acquire(self.wait_at_most)

    def give_back(self) -> None:
        """Hand the turn to the next waiting transaction, if this thread holds it."""
        if self.holding():
            self.local.holding = False
            self.turns.release()

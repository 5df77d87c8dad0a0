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
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

MAX_BATCH = 64  # use cases per commit at most: a batch holds the write lock while it runs


class _Batch:
    def __init__(self, engine: Engine) -> None:
        self.connection = engine.connect().execution_options(calkeeper_write=True)
        self.transaction = self.connection.begin()
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
            self.done.set()


class GroupCommit:
    """Write transactions on one SQLite engine, committed in batches (see the module's docstring)."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.mutex = threading.RLock()
        self.count = threading.Lock()
        self.queued = 0
        self.batch: _Batch | None = None
        self.local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection whose changes are committed, with the batch's, before this returns."""
        if getattr(self.local, "depth", 0):  # inside a use case of this thread's: a nested savepoint
            assert self.batch is not None
            with self.batch.connection.begin_nested():
                yield self.batch.connection
            return
        with self.count:
            self.queued += 1
        self.mutex.acquire()
        with self.count:
            self.queued -= 1
        batch: _Batch | None = None
        failed = False
        try:
            batch = self.batch
            if batch is None:
                batch = self.batch = _Batch(self.engine)
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
                    with self.count:
                        last = self.queued == 0 or batch.members >= self.max_batch
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

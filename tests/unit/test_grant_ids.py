"""Grant (session) ids: unguessable, unique, in time order, and never the same in two processes."""

from __future__ import annotations

import multiprocessing
import uuid
from datetime import UTC, datetime, timedelta

from calkeeper.core.cals import CalType, new_grant_id

AT = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)


def test_a_grant_id_is_the_cal_types_initial_and_a_version_7_uuid_of_its_millisecond() -> None:
    for cal_type, initial in ((CalType.NAMED, "N"), (CalType.DOCUMENT, "D"), (CalType.SESSION, "S"),
                              (CalType.USAGE, "U")):
        grant_id = new_grant_id(cal_type, AT)
        prefix, _, hex_part = grant_id.partition("-")
        value = uuid.UUID(hex_part)
        assert prefix == initial and len(hex_part) == 32
        assert value.version == 7 and value.variant == uuid.RFC_4122
        assert int(hex_part[:12], 16) == int(AT.timestamp() * 1000)


def test_grant_ids_come_in_time_order_and_never_twice() -> None:
    ids = [new_grant_id(CalType.NAMED, AT + timedelta(milliseconds=n)) for n in range(5000)]
    assert ids == sorted(ids)
    same_millisecond = {new_grant_id(CalType.NAMED, AT) for _ in range(50_000)}
    assert len(same_millisecond) == 50_000  # 74 random bits tell them apart


def _child_ids(queue: multiprocessing.Queue[list[str]]) -> None:
    queue.put([new_grant_id(CalType.NAMED, AT) for _ in range(100)])


def test_a_forked_process_never_hands_out_the_ids_its_parent_will() -> None:
    new_grant_id(CalType.NAMED, AT)  # the parent has random bytes waiting in its buffer
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[list[str]] = context.Queue()
    child = context.Process(target=_child_ids, args=(queue,))
    child.start()
    theirs = queue.get(timeout=30)
    child.join(timeout=30)
    ours = [new_grant_id(CalType.NAMED, AT) for _ in range(100)]
    assert not set(ours) & set(theirs)

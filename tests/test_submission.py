"""The submission outbox with real parts: SQLite files, SMTP (aiosmtpd) and an HTTP sink
(aiohttp), all on 127.0.0.1. Time is the test's clock: backoff never sleeps for real."""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import re
import unicodedata
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from pypdf import PdfReader

from bot.cli import outbox as outbox_cli
from bot.submission import SubmissionWorker
from bot.wiring import Components, build
from storage.db import MIGRATIONS, Database
from storage.declarations import DeclarationStore, ReviewQueue, SubmissionOutbox
from tests.conftest import START, FakeClock, make_settings
from tests.servers import HttpSink, free_port, smtp_server
from tests.story import Citizen, fill_until_review

LIMIT = 20.0  # seconds any one network step may take before the test fails


# ---------------------------------------------------------------------------- real servers
# ---------------------------------------------------------------------------- helpers
def worker_for(parts: Components, clock: FakeClock, **options: Any) -> SubmissionWorker:
    return SubmissionWorker(
        parts.db,
        parts.service.notifier,
        parts.translator,
        agencies=parts.service.flow.agencies,
        clock=clock,
        rng=random.Random(5),
        **options,
    )


async def run(worker: SubmissionWorker, clock: FakeClock) -> int:
    return await asyncio.wait_for(worker.run_once(clock()), LIMIT)


async def submit(
    parts: Components,
    clock: FakeClock,
    draft: str,
    destinations: tuple[str, ...] = ("review_queue", "email_copy"),
    **data: Any,
) -> str:
    values: dict[str, Any] = {
        "full_name": "Nguyễn Văn An",
        # One BHXH code per draft: one declaration per code may wait at a time.
        "bhxh_code": f"03{zlib.crc32(draft.encode()) % 10**8:08d}",
        "id_number": "001099012345",
        "id_type": "cccd",
        "street": "Số 5 Lạch Tray",
        "phone": "+84983847986",
        "locale": "vi",
        "portrait": "photo-1",
    }
    values.update(data)
    store = DeclarationStore(parts.db)
    return await store.submit(draft, "tg:3001", "03102", values, clock(), destinations=destinations)


async def code_from_outbox(parts: Components) -> str:
    [message] = await parts.outbox.latest(limit=1)
    return "".join(c for c in message.body if c.isdigit())[:6]


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return unicodedata.normalize("NFC", "\n".join(p.extract_text() for p in reader.pages))


async def until_settled(
    worker: SubmissionWorker, clock: FakeClock, rounds: int, check: Callable[[], Awaitable[bool]]
) -> int:
    """Run passes two hours apart until ``check`` holds; returns the passes it took."""
    for n in range(1, rounds + 1):
        await run(worker, clock)
        if await check():
            return n
        clock.advance(hours=2)
    raise AssertionError(f"not settled after {rounds} passes")


# ---------------------------------------------------------------------------- storage
async def test_submit_writes_the_outbox_items_with_the_receipt(
    parts: Components, clock: FakeClock
) -> None:
    receipt = await submit(parts, clock, "d1", email="an@example.com", wants_email=True)
    items = await SubmissionOutbox(parts.db).for_declaration(receipt)
    assert [i.destination for i in items] == ["review_queue", "email_copy"]
    assert all(i.status == "pending" and i.attempts == 0 for i in items)
    assert len({i.idempotency_key for i in items}) == 2
    # the same draft again (a retry after a crash): same receipt, no new items
    assert await submit(parts, clock, "d1", email="an@example.com", wants_email=True) == receipt
    assert len(await SubmissionOutbox(parts.db).for_declaration(receipt)) == 2


async def test_only_the_destinations_that_apply_are_enqueued(
    parts: Components, clock: FakeClock
) -> None:
    no_copy = await submit(parts, clock, "d2", email="an@example.com", wants_email=False)
    endpoint = await submit(
        parts, clock, "d3", ("review_queue", "email_copy", "agency_endpoint"), wants_email=True
    )  # wants a copy but gave no address
    outbox = SubmissionOutbox(parts.db)
    assert [i.destination for i in await outbox.for_declaration(no_copy)] == ["review_queue"]
    assert [i.destination for i in await outbox.for_declaration(endpoint)] == [
        "review_queue",
        "agency_endpoint",
    ]
    with pytest.raises(ValueError, match="fax"):
        await submit(parts, clock, "d4", ("review_queue", "fax"))
    assert await parts.db.fetch("SELECT COUNT(*) FROM declarations") == [(2,)]


# ---------------------------------------------------------------------------- e-mail copy
async def test_smtp_down_while_the_citizen_submits_then_up_the_copy_arrives_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    port = free_port()  # nothing listens there yet: the mail server is down
    settings = make_settings(
        tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
        smtp_from="VssID <no-reply@vssid.test>",
    )  # fmt: skip
    parts = await build(settings, clock)
    try:
        citizen = Citizen(parts, "tg:3101")
        await fill_until_review(citizen, email="an.nguyen@example.com")
        await citizen.presses("review:confirm")
        await citizen.presses("otp:via:sms")  # no SMS gateway: the code is in the dev outbox
        await citizen.says(await code_from_outbox(parts))
        assert await citizen.state() == "done"
        [declaration] = await parts.service.declarations.for_user("tg:3101")
        receipt = declaration.receipt

        worker = worker_for(parts, clock)
        assert await run(worker, clock) == 1  # the review queue; the e-mail failed
        outbox = SubmissionOutbox(parts.db)
        review, copy = await outbox.for_declaration(receipt)
        assert review.status == "delivered"
        assert copy.status == "pending" and copy.attempts == 1
        assert "SMTP" in (copy.last_error or "")
        assert timedelta(seconds=15) <= copy.next_attempt_at - clock() <= timedelta(seconds=30)
        [queued] = await ReviewQueue(parts.db).waiting("03102")
        assert queued.receipt == receipt and queued.status == "submitted"

        with smtp_server(port) as inbox:
            assert await run(worker, clock) == 0  # not due yet: no hammering
            clock.advance(seconds=31)
            assert await run(worker, clock) == 1
            clock.advance(hours=3)
            assert await run(worker, clock) == 0
            assert await run(worker_for(parts, clock), clock) == 0  # another worker neither
            [mail] = inbox.messages
        assert mail["To"] == "an.nguyen@example.com"
        assert receipt in mail["Subject"]
        assert mail["Message-ID"] == f"<{copy.idempotency_key}@vssid-bot>"
        body = mail.get_body(("plain",))
        assert body is not None and "Nguyễn Văn An" in body.get_content()
        [attachment] = list(mail.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename() == f"to-khai-01_{receipt.replace('/', '-')}.pdf"
        text = pdf_text(attachment.get_content())
        assert "Nguyễn Văn An" in text and receipt in text and "001099012345" in text
        [_, delivered] = await outbox.for_declaration(receipt)
        assert delivered.status == "delivered" and delivered.attempts == 1
        assert await outbox.counts() == {"pending": 0, "delivered": 2, "parked": 0}
    finally:
        await parts.close()


async def test_without_smtp_the_copy_goes_to_the_dev_outbox_with_its_attachment_noted(
    parts: Components, clock: FakeClock
) -> None:
    receipt = await submit(parts, clock, "d5", email="an@example.com", wants_email=True)
    assert await run(worker_for(parts, clock), clock) == 2
    [message] = await parts.outbox.latest("an@example.com")
    assert receipt in message.subject
    assert f"to-khai-01_{receipt.replace('/', '-')}.pdf" in message.body


# ---------------------------------------------------------------------------- agency endpoint
async def test_the_agency_endpoint_fails_three_times_then_gets_it_once_with_one_key(
    parts: Components, clock: FakeClock, sink: HttpSink
) -> None:
    sink.script = [500, 500, 500]
    receipt = await submit(parts, clock, "d6", ("review_queue", "agency_endpoint"))
    worker = worker_for(parts, clock, submission_url=sink.url)
    outbox = SubmissionOutbox(parts.db)

    async def endpoint_delivered() -> bool:
        return (await outbox.for_declaration(receipt))[1].status == "delivered"

    assert await until_settled(worker, clock, 6, endpoint_delivered) == 4
    [_, item] = await outbox.for_declaration(receipt)
    assert item.attempts == 3 and item.last_error == "agency endpoint answered 500"
    assert len(sink.requests) == 4
    assert set(sink.keys()) == {item.idempotency_key}
    headers, payload = sink.requests[-1]
    assert headers["Content-Type"] == "application/json"
    assert payload["receipt"] == receipt and payload["agency_code"] == "03102"
    assert payload["declaration"]["full_name"] == "Nguyễn Văn An"
    assert "portrait" not in payload["declaration"]  # photo ids stay home
    for _ in range(3):
        clock.advance(hours=2)
        assert await run(worker, clock) == 0
    assert len(sink.requests) == 4


async def test_backoff_grows_with_jitter_and_stops_at_an_hour(parts: Components) -> None:
    worker = SubmissionWorker(
        parts.db, parts.service.notifier, parts.translator, rng=random.Random(1)
    )
    for failures, low, high in [(1, 15, 30), (2, 30, 60), (4, 120, 240), (8, 1800, 3600)]:
        waits = {worker.backoff(failures).total_seconds() for _ in range(50)}
        assert all(low <= w <= high for w in waits), (failures, waits)
        assert len(waits) > 40  # jitter: items that failed together spread out
    assert worker.backoff(40) <= timedelta(hours=1)


# ---------------------------------------------------------------------------- restarts
async def test_items_pending_at_a_restart_are_delivered_by_the_next_process(
    tmp_path: Path, clock: FakeClock, sink: HttpSink
) -> None:
    first = await build(make_settings(tmp_path), clock)
    sink.default = 503
    for draft in ("d7", "d8"):
        await submit(first, clock, draft, ("review_queue", "agency_endpoint"))
    await run(worker_for(first, clock, submission_url=sink.url), clock)  # 503, 503: pending
    clock.advance(hours=2)
    # the old process takes one item and dies in the middle of delivering it
    [interrupted] = await SubmissionOutbox(first.db).claim(
        "dead-worker", clock(), timedelta(minutes=5), limit=1
    )
    await first.close()

    sink.default = 200
    second = await build(make_settings(tmp_path), clock)  # new objects, the same files
    try:
        worker = worker_for(second, clock, submission_url=sink.url)
        assert await run(worker, clock) == 1  # the waiting one; the other is still leased
        clock.advance(minutes=5)  # the dead worker's lease has run out
        assert await run(worker, clock) == 1
        assert await run(worker, clock) == 0
        outbox = SubmissionOutbox(second.db)
        assert await outbox.counts() == {"pending": 0, "delivered": 4, "parked": 0}
        assert sink.keys()[-1] == interrupted.item.idempotency_key
        assert len(sink.requests) == 4 and len(set(sink.keys())) == 2
    finally:
        await second.close()


async def test_two_workers_on_two_connections_never_send_an_item_twice(
    parts: Components, clock: FakeClock, sink: HttpSink
) -> None:
    for n in range(12):
        await submit(parts, clock, f"many-{n}", ("review_queue", "agency_endpoint"))
    other_db = await Database(parts.settings.database_path, parts.db.vault).open()
    try:
        one = worker_for(parts, clock, submission_url=sink.url, batch=3)
        two = SubmissionWorker(
            other_db,
            parts.service.notifier,
            parts.translator,
            submission_url=sink.url,
            clock=clock,
            batch=3,
        )
        results = await asyncio.wait_for(
            asyncio.gather(one.run_once(clock()), two.run_once(clock()), one.run_once(clock())),
            LIMIT,
        )
    finally:
        await other_db.close()
    assert sum(results) == 24
    assert len(sink.requests) == 12 and len(set(sink.keys())) == 12
    assert len(await ReviewQueue(parts.db).waiting()) == 12


async def test_run_forever_delivers_when_woken_and_stops_when_asked(
    parts: Components, clock: FakeClock
) -> None:
    worker = worker_for(parts, clock)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop, interval=30))
    receipt = await submit(parts, clock, "d9")
    worker.wake()
    outbox = SubmissionOutbox(parts.db)
    for _ in range(500):  # 5 s at most, although the interval is 30 s
        if (await outbox.for_declaration(receipt))[0].status == "delivered":
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the woken worker did not deliver")
    stop.set()
    await asyncio.wait_for(task, 5)


# ---------------------------------------------------------------------------- parking
async def test_an_item_that_keeps_failing_is_parked_listed_and_can_be_retried(
    parts: Components,
    clock: FakeClock,
    sink: HttpSink,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sink.default = 500
    receipt = await submit(parts, clock, "d10", ("review_queue", "agency_endpoint"))
    worker = worker_for(parts, clock, submission_url=sink.url)
    outbox = SubmissionOutbox(parts.db)

    async def parked() -> bool:
        return (await outbox.for_declaration(receipt))[1].status == "parked"

    assert await until_settled(worker, clock, 10, parked) == 8
    assert len(sink.requests) == 8
    clock.advance(days=2)
    assert await run(worker, clock) == 0 and len(sink.requests) == 8  # parked stays parked
    [item] = await outbox.items()
    assert item.status == "parked" and item.attempts == 8

    monkeypatch.setenv("VSSID_DATA_DIR", str(parts.settings.vssid_data_dir))
    capsys.readouterr()
    assert await cli("outbox") == 0
    listed = capsys.readouterr().out
    assert f"#{item.id}" in listed and "parked" in listed and receipt in listed
    assert "agency_endpoint" in listed and "last error: agency endpoint answered 500" in listed
    counts = ["pending 0, delivered 1, parked 1", "notices: pending 0, parked 0"]
    assert listed.splitlines()[-2:] == counts

    assert await cli("outbox", "--retry", "999") == 2
    assert await cli("outbox", "--retry", str(item.id), clock=clock) == 0
    sink.default = 200
    clock.advance(seconds=1)
    assert await run(worker, clock) == 1
    assert (await outbox.for_declaration(receipt))[1].status == "delivered"
    assert await cli("outbox", "--all") == 0
    assert "delivered" in capsys.readouterr().out.splitlines()[-3]


async def cli(*argv: str, clock: FakeClock | None = None) -> int:
    """``vssid-bot outbox …`` as the operator runs it (its own event loop and connection),
    on the test's clock when one is given."""
    root = argparse.ArgumentParser(prog="vssid-bot")
    subparsers = root.add_subparsers(dest="command", required=True)
    if clock is None:
        outbox_cli.register(subparsers)
    else:
        outbox_cli.register(subparsers, clock=clock)
    args = root.parse_args(argv)
    code: int = await asyncio.wait_for(asyncio.to_thread(args.func, args), LIMIT)
    return code


def test_times_in_the_outbox_compare_as_text() -> None:
    from storage.declarations import from_db_time, to_db_time

    later = START + timedelta(microseconds=1)
    assert to_db_time(START) < to_db_time(later) < to_db_time(START + timedelta(seconds=1))
    assert from_db_time(to_db_time(later)) == later


async def test_declarations_from_before_the_outbox_reach_the_review_queue(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(path, isolation_level=None) as old:  # a schema-1 database
        for statement in filter(str.strip, MIGRATIONS[0].split(";")):
            await old.execute(statement)
        await old.execute("PRAGMA user_version=1")
        await old.execute(
            "INSERT INTO declarations (draft_id, user_key, receipt, agency_code, data, "
            "submitted_at) VALUES ('old', 'tg:1', '00001.GD/2026/03102', '03102', '{}', ?)",
            (clock().isoformat(),),
        )
    db = await Database(path).open()  # migrates
    try:
        [item] = await SubmissionOutbox(db).items()
        assert item.destination == "review_queue" and item.status == "pending"
        uuid4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
        assert re.fullmatch(uuid4, item.idempotency_key)
        assert item.next_attempt_at <= datetime.now(UTC)
    finally:
        await db.close()

"""The viewer's client (`flow-tui attach`) reads the run's lines by chunks: every message
is handed on once and in order however the bytes arrive, a malformed line is passed over,
and a line longer than the client takes ends the connection (its on_closed, once)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from flow_tui.control import client as client_module
from flow_tui.control.client import AsyncControlClient, ControlClient
from flow_tui.control.registry import ControlError, RunInfo

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]


def line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message) + "\n").encode()


@contextlib.asynccontextmanager
async def peer(script: Script) -> AsyncIterator[RunInfo]:
    """A run's socket whose peer says hello, then runs `script`, then closes."""
    folder = Path(tempfile.mkdtemp(prefix="ft", dir="/tmp"))
    path = str(folder / "s")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()  # the client's hello
        writer.write(line({"type": "hello", "version": 1, "run": {}}))
        await script(writer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(serve, path)
    async with server:
        yield RunInfo("r1", 1, "w", path, "2026-11-30T00:00:00+00:00")


async def read_all(script: Script) -> tuple[list[dict[str, Any]], int]:
    """What a client hears from a peer that says hello, then runs `script`, then closes;
    and how many times it was told the connection ended."""
    got: list[dict[str, Any]] = []
    closed = asyncio.Event()
    ends = 0

    def on_closed() -> None:
        nonlocal ends
        ends += 1
        closed.set()

    async with peer(script) as info:
        client = AsyncControlClient(info, got.append, on_closed)
        await client.connect()
        await asyncio.wait_for(closed.wait(), 10)
        await client.close()
    return got, ends


def events(n: int, size: int = 0) -> list[dict[str, Any]]:
    return [
        {"type": "event", "event": "task_end", "task": f"t{i}", "pad": "x" * size} for i in range(n)
    ]


async def test_every_message_in_order_however_the_bytes_arrive() -> None:
    sent = events(300) + events(2, size=200_000) + events(5)  # two lines over a chunk
    data = b"".join(map(line, sent))

    async def in_odd_pieces(writer: asyncio.StreamWriter) -> None:
        at = 0
        for size in [1, 7, 64, 1000, 65_536, 3, 150_000] * 20:
            writer.write(data[at : at + size])
            await writer.drain()
            await asyncio.sleep(0)  # each piece its own read where the loop allows
            at += size
            if at >= len(data):
                return
        writer.write(data[at:])

    got, ends = await read_all(in_odd_pieces)
    assert got == sent
    assert ends == 1


async def test_a_malformed_line_is_passed_over() -> None:
    first, second = events(2)

    async def with_junk(writer: asyncio.StreamWriter) -> None:
        writer.write(line(first) + b"not json\n" + b"[1, 2]\n" + line(second))

    got, ends = await read_all(with_junk)
    assert got == [first, second]
    assert ends == 1


async def test_a_line_too_long_ends_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_SERVER_MESSAGE", 10_000)
    first, after = events(2)

    async def too_long(writer: asyncio.StreamWriter) -> None:
        writer.write(line(first) + b'{"pad": "' + b"x" * 50_000 + b'"}\n' + line(after))

    got, ends = await read_all(too_long)
    assert got == [first]
    assert ends == 1


async def test_the_blocking_client_reads_the_same_lines_and_refuses_one_too_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `flow-tui stop --wait` and scripts read through ControlClient: the same lines,
    # handed on in order in odd pieces, and a line over the limit is an error that says so.
    monkeypatch.setattr(client_module, "MAX_SERVER_MESSAGE", 10_000)
    first, second = events(2)

    async def pieces(writer: asyncio.StreamWriter) -> None:
        data = line(first) + line(second) + b'{"pad": "' + b"x" * 50_000 + b'"}\n'
        for at in range(0, len(data), 7_000):
            writer.write(data[at : at + 7_000])
            await writer.drain()

    def read(info: RunInfo) -> tuple[list[dict[str, Any]], str]:
        got: list[dict[str, Any]] = []
        with ControlClient(info, timeout=10) as client:
            try:
                got.extend(client.messages())
            except ControlError as exc:
                return got, str(exc)
        return got, ""

    async with peer(pieces) as info:
        got, error = await asyncio.to_thread(read, info)
    assert got == [first, second]
    assert error == "run r1 sent a message too long to read"

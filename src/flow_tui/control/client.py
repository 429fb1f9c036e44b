"""Talking to a run's control socket: a blocking client for commands and scripts, an
asyncio one for a viewer (the attached dashboard) that reads events as they come.

Both speak first (`hello`) and turn every refusal into a `ControlError` (one line) or,
for a refused command, a `CommandRefused` that keeps the reply (its `kind`, and the
tasks that need consent).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import socket
import time
from collections.abc import Callable
from itertools import takewhile
from typing import Any

from flow_tui.control.protocol import (
    MAX_SERVER_MESSAGE,
    PROTOCOL_VERSION,
    ProtocolError,
    decode,
    encode,
)
from flow_tui.control.registry import ControlError, RunInfo
from flow_tui.core.collector import collector_paused


class CommandRefused(ControlError):
    """The run refused a command; `reply` is its answer (`kind`, `error`, ...)."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.kind = str(reply.get("kind") or "")
        super().__init__(str(reply.get("error") or "refused"))


#: Bytes read from the socket at once.
READ_CHUNK = 1 << 16
#: How long a client that heard the run's `bye` waits for the run's process to be gone.
GONE_SECONDS = 5.0
#: A message this long (a large run's full state) is decoded with the collector paused.
BIG_MESSAGE = 1 << 20

#: How long a viewer waits before it parses each chunk of events it read (64 KiB: a
#: batch of 5k-task events is some 20 of them). The
#: kernel wakes a socket's reader on the CPU of the process that wrote (expecting the
#: writer to sleep next), but a run that sends events goes on working: the viewer's
#: parsing would then take turns with the run on one CPU while another is idle. Woken
#: again by a timer, the viewer is placed on an idle CPU. Not while a long message comes
#: in (the state of a 300k-task run is 1,600 chunks). benchmarks/attach.py, 2 CPUs:
#: two viewers cost a 5k-task run 1.27-1.49x without this wait, 1.12-1.29x with it (two
#: dashboards: 1.95x, and 1.18-1.26x).
SETTLE_SECONDS = 0.001


class _Lines:
    """The whole lines in the chunks read from a run's socket, for both clients: what
    follows the last newline of a chunk waits for the next one. A line over
    MAX_SERVER_MESSAGE ends the stream: the lines before it are given, then `too_long`
    is set."""

    __slots__ = ("_rest", "too_long")

    def __init__(self) -> None:
        self._rest = bytearray()  # the start of a line not yet whole
        self.too_long = False

    @property
    def in_long_message(self) -> bool:
        """A line of a chunk or more is coming in (a large run's state): read on between
        its chunks without SETTLE_SECONDS."""
        return len(self._rest) >= READ_CHUNK

    def feed(self, chunk: bytes) -> list[bytearray]:
        """The lines `chunk` ends, without their newlines."""
        rest = self._rest
        end = chunk.rfind(b"\n")
        if end < 0:
            rest += chunk
            self.too_long = len(rest) > MAX_SERVER_MESSAGE
            return []
        rest += memoryview(chunk)[: end + 1]
        lines = rest.split(b"\n")
        lines.pop()  # what followed the last newline: nothing
        self._rest = bytearray(memoryview(chunk)[end + 1 :])
        if max(map(len, lines)) > MAX_SERVER_MESSAGE:
            self.too_long = True
            return [*takewhile(lambda line: len(line) <= MAX_SERVER_MESSAGE, lines)]
        return lines


def _hello() -> dict[str, Any]:
    return {"type": "hello", "version": PROTOCOL_VERSION, "client": "flow-tui"}


def _gone(info: RunInfo) -> ControlError:
    return ControlError(
        f"run {info.id} ({info.workflow}, pid {info.pid}) is no longer running: "
        "it finished or died; `flow-tui ps` lists the runs"
    )


def _check_hello(info: RunInfo, message: dict[str, Any] | None) -> dict[str, Any]:
    if message is None:
        raise _gone(info)
    if message.get("type") == "error":
        raise ControlError(f"run {info.id}: {message.get('error')}")
    if message.get("type") != "hello":
        raise ControlError(f"run {info.id} answered something that is not a flow-tui hello")
    return message


class ControlClient:
    """A blocking connection to one run (`flow-tui pause/resume/save/stop/ps`)."""

    def __init__(self, info: RunInfo, timeout: float | None = 30.0) -> None:
        self.info = info
        self.timeout = timeout
        self.run: dict[str, Any] = {}
        self._sock: socket.socket | None = None
        self._lines = _Lines()
        self._messages: collections.deque[dict[str, Any]] = collections.deque()  # not read
        self._ids = itertools.count(1)
        self._watching = False  # reading events (`messages`): see SETTLE_SECONDS

    def __enter__(self) -> ControlClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> dict[str, Any]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.info.socket)
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            raise _gone(self.info) from None
        except PermissionError:
            sock.close()
            raise ControlError(
                f"permission denied: cannot reach run {self.info.id} at {self.info.socket}"
            ) from None
        except OSError as exc:
            sock.close()
            raise ControlError(f"cannot reach run {self.info.id}: {exc.strerror or exc}") from None
        self._sock = sock
        # A run that refuses us may close first: what it said is read below.
        with contextlib.suppress(OSError):
            sock.sendall(encode(_hello()))
        hello = _check_hello(self.info, self._receive())
        self.run = hello.get("run") or {}
        return hello

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def _send(self, message: dict[str, Any]) -> None:
        assert self._sock is not None
        try:
            self._sock.sendall(encode(message))
        except OSError:
            raise _gone(self.info) from None

    def _receive(self) -> dict[str, Any] | None:
        """The next message, None at the end of the stream."""
        assert self._sock is not None
        while not self._messages:
            if self._lines.too_long:  # after the messages before that line
                raise ControlError(f"run {self.info.id} sent a message too long to read")
            try:
                chunk = self._sock.recv(READ_CHUNK)
            except TimeoutError:
                raise ControlError(f"run {self.info.id} did not answer in time") from None
            except OSError:
                return None
            if not chunk:
                return None
            if self._watching and not self._lines.in_long_message:
                time.sleep(SETTLE_SECONDS)
            self._messages.extend(self._decode_all(self._lines.feed(chunk)))
        return self._messages.popleft()

    def _decode_all(self, lines: list[bytearray]) -> list[dict[str, Any]]:
        """The messages of whole lines."""
        try:
            return [decode(line) for line in lines]
        except ProtocolError as exc:
            raise ControlError(f"run {self.info.id} sent a malformed message: {exc}") from None

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one command and return its reply (CommandRefused when refused)."""
        ident = next(self._ids)
        self._send({"id": ident, "cmd": cmd, **args})
        while True:
            message = self._receive()
            if message is None or message.get("type") == "bye":
                raise _gone(self.info)
            if message.get("type") == "error":
                raise ControlError(f"run {self.info.id}: {message.get('error')}")
            if message.get("type") == "reply" and message.get("id") == ident:
                if not message.get("ok"):
                    raise CommandRefused(message)
                return message

    def wait_end(self) -> dict[str, Any] | None:
        """Wait, with no time limit, until the run ends: its `bye` (status, exit code), or
        None when the connection ended without one (the run died or left at once). After
        the bye, until the run's process is gone (at most GONE_SECONDS)."""
        if self._sock is not None:
            self._sock.settimeout(None)
        try:
            for message in self.messages():
                if message.get("type") == "bye":
                    self._until_gone()
                    return message
        except ControlError:
            return None
        return None

    def messages(self) -> Any:
        """Every message that follows (events after `subscribe`), until the run ends: its
        `bye`, then (when the next one is asked for) the end of the connection, which the
        run keeps open until its process is gone (at most GONE_SECONDS)."""
        self._watching = True
        while True:
            message = self._receive()
            if message is None:
                return
            yield message
            if message.get("type") == "bye":
                self._until_gone()
                return

    def _until_gone(self) -> None:
        """Read to the end of the connection, at most GONE_SECONDS: a run that ends keeps
        its viewers' connections open until its process has exited."""
        sock = self._sock
        if sock is None:
            return
        deadline = time.monotonic() + GONE_SECONDS
        try:
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(READ_CHUNK):
                    return
        except OSError:  # the time is up (TimeoutError), or the connection broke
            return


class AsyncControlClient:
    """An asyncio connection for a viewer: `on_message` gets every event and `bye`;
    `on_closed` is called once when the connection ends (the run ended or died)."""

    def __init__(
        self,
        info: RunInfo,
        on_message: Callable[[dict[str, Any]], None],
        on_closed: Callable[[], None],
    ) -> None:
        self.info = info
        self.on_message = on_message
        self.on_closed = on_closed
        self.run: dict[str, Any] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    async def connect(self) -> dict[str, Any]:
        try:
            reader, writer = await asyncio.open_unix_connection(
                self.info.socket, limit=MAX_SERVER_MESSAGE
            )
        except (FileNotFoundError, ConnectionRefusedError):
            raise _gone(self.info) from None
        except PermissionError:
            raise ControlError(f"permission denied: cannot reach run {self.info.id}") from None
        except OSError as exc:
            raise ControlError(f"cannot reach run {self.info.id}: {exc.strerror or exc}") from None
        self._reader, self._writer = reader, writer
        # A run that refuses us may close first: what it said is read below.
        with contextlib.suppress(OSError):
            writer.write(encode(_hello()))
        try:
            line = await reader.readline()
            message = decode(line) if line.endswith(b"\n") else None
        except (OSError, ValueError):  # reset, over the limit, not JSON
            message = None
        if message is None or message.get("type") != "hello":
            writer.close()
        hello = _check_hello(self.info, message)
        self.run = hello.get("run") or {}
        self._task = asyncio.get_running_loop().create_task(self._read_loop())
        return hello

    async def _read_loop(self) -> None:
        """Every message, read by chunks (a line at a time cost a coroutine's round per
        event: 10k of them for 5k tasks) and handed on in order; a malformed line is
        passed over, a line longer than MAX_SERVER_MESSAGE ends the connection."""
        assert self._reader is not None
        reader = self._reader
        lines = _Lines()
        try:
            while True:
                chunk = await reader.read(READ_CHUNK)
                if not chunk:
                    break
                if not lines.in_long_message:
                    await asyncio.sleep(SETTLE_SECONDS)
                for line in lines.feed(chunk):
                    self._hand_on(line)
                if lines.too_long:
                    break
        except (OSError, ValueError):
            pass
        finally:
            self._finish()

    def _hand_on(self, line: bytes | bytearray) -> None:
        try:
            if len(line) > BIG_MESSAGE:
                with collector_paused():  # a full state: a million small objects, no cycles
                    message = decode(line)
            else:
                message = decode(line)
        except ProtocolError:
            return
        if message.get("type") == "reply":
            future = self._replies.pop(message.get("id"), None)  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_result(message)
            return
        self.on_message(message)

    def _finish(self) -> None:
        if self.closed:
            return
        self.closed = True
        for future in self._replies.values():
            if not future.done():
                future.set_exception(_gone(self.info))
        self._replies.clear()
        self.on_closed()

    async def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        if self.closed or self._writer is None:
            raise _gone(self.info)
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[ident] = future
        try:
            self._writer.write(encode({"id": ident, "cmd": cmd, **args}))
        except OSError:
            self._replies.pop(ident, None)
            raise _gone(self.info) from None
        reply = await future
        if not reply.get("ok"):
            raise CommandRefused(reply)
        return reply

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        self._finish_quietly()

    def _finish_quietly(self) -> None:
        self.closed = True
        for future in self._replies.values():
            if not future.done():
                future.cancel()
        self._replies.clear()

"""The control endpoint every run serves: a Unix socket that only its own user can use.

One `ControlServer` per run, on the run's event loop. It never blocks or slows the run:
commands are small and run between two task events; events go to subscribed viewers in
batches (every BATCH_SECONDS), encoded once for all of them, and a viewer that does not
read them (more than MAX_BUFFERED bytes waiting and none read for SLOW_SECONDS, or
more than MAX_BUFFERED_HARD) is dropped with a notice. A client of
another user id is refused (SO_PEERCRED), a line over MAX_MESSAGE bytes or no `hello`
within HELLO_SECONDS drops the client, a malformed line gets an error reply.

Over 400 lines on purpose: the connection's life (peer check, hello, framing, commands
one at a time) and the fan-out of events share the client table and the closing rules
(refuse newcomers, bye, drain); apart, each would need the other's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flow_tui.control.controls import Controls, describe_error
from flow_tui.control.protocol import (
    COMMANDS,
    ERR_ENDED,
    ERR_INTERNAL,
    ERR_PROTOCOL,
    ERR_SAVE,
    ERR_STATE,
    ERR_USAGE,
    MAX_MESSAGE,
    PROTOCOL_VERSION,
    EventLines,
    ProtocolError,
    as_messages,
    decode,
    encode,
    event_line,
)
from flow_tui.control.protocol import now_iso as event_ts
from flow_tui.control.registry import (
    ControlError,
    RunInfo,
    new_run_id,
    now_iso,
    remove_run_files,
    runtime_dir,
    socket_path,
    write_info,
)
from flow_tui.core.errors import FlowError
from flow_tui.core.events import Event

#: Descriptors of clients' connections kept open until this process exits (close_now).
_HELD_UNTIL_EXIT: list[int] = []

BATCH_SECONDS = 0.05
#: Bytes of events a viewer may leave unread: over it, a viewer that read nothing since
#: the last batch is dropped; over the hard limit, any viewer is (memory of the run).
MAX_BUFFERED = 8 << 20
MAX_BUFFERED_HARD = 64 << 20
#: The kernel's send buffer asked for each client (capped by net.core.wmem_max).
SEND_BUFFER = 1 << 20
#: How often a viewer over MAX_BUFFERED is looked at again when no batch comes.
SLOW_SECONDS = 1.0
#: A client taking in a large reply (a full state) is dropped when it takes nothing of it
#: for this long; how often that is looked at.
REPLY_STALL_SECONDS = 10.0
REPLY_POLL_SECONDS = 0.01
HELLO_SECONDS = 10.0
#: Connections served at once, handshaking ones included (each holds a descriptor).
MAX_CLIENTS = 64
#: How long, in all, clients get to read what is left and their `bye` when the run ends.
CLOSE_SECONDS = 2.0
#: Commands that steer the run: refused once it has ended.
STEERING = ("pause", "resume", "stop")  # retry is what an ended run (a dashboard) can do
#: Malformed lines a client may send before it is dropped.
MAX_STRIKES = 16
#: The longest socket path the kernel takes (sun_path is 108 bytes on Linux).
MAX_SOCKET_PATH = 104


def peer_uid(sock: Any) -> tuple[int | None, int | None]:
    """(pid, uid) of the process at the other end, where the system says (Linux).

    (None, None) where the system has no SO_PEERCRED; where it has one but cannot answer
    for this connection, uid is -1: such a client is refused, never let in unchecked.
    """
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:
        return None, None
    if sock is None:
        return None, -1
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", raw)
    except (OSError, struct.error, TypeError, ValueError):
        return None, -1
    return pid, uid


class _Client:
    __slots__ = ("after_write", "pid", "queued", "reply_end", "stalled_at", "subscribed", "writer")

    def __init__(self, writer: asyncio.StreamWriter, pid: int | None) -> None:
        self.writer = writer
        self.pid = pid
        self.subscribed = False
        #: bytes waiting for it right after the last batch was written
        self.after_write = 0
        #: since when (loop time) it is over MAX_BUFFERED and has read nothing, or None
        self.stalled_at: float | None = None
        #: bytes handed to its transport so far, and how many of them end its last reply
        self.queued = 0
        self.reply_end = 0

    @property
    def label(self) -> str:
        return f"pid {self.pid}" if self.pid is not None else "a client"

    @property
    def gone(self) -> bool:
        return self.writer.transport.is_closing()

    def send(self, message: dict[str, Any]) -> None:
        """A reply (or an error, the bye): not events."""
        # A client may be gone (or dropped) by now: what it misses it did not wait for.
        if self.gone:
            return
        self.write(encode(message))
        self.reply_end = self.queued

    def write(self, data: bytes) -> None:
        with contextlib.suppress(Exception):
            self.writer.write(data)
            self.queued += len(data)

    def buffered(self) -> int:
        return self.writer.transport.get_write_buffer_size()

    @property
    def taken(self) -> int:
        """Bytes the kernel has taken from the run for it (it may not have read them yet)."""
        return self.queued - self.buffered()

    @property
    def reading_reply(self) -> bool:
        """Whether its last reply is not all taken yet: the full state of a large run is
        tens or hundreds of megabytes, a reply that is not a backlog of events."""
        return self.taken < self.reply_end


class ControlServer:
    """Serves `controls` on a socket of its own; `notice` tells the run's operator."""

    def __init__(
        self,
        controls: Controls,
        *,
        front_end: str,
        notice: Callable[[str], None],
        lines: EventLines | None = None,
    ) -> None:
        self.controls = controls
        self.session = controls.session
        self.front_end = front_end
        self.notice = notice
        self.info: RunInfo | None = None
        self._folder: Path | None = None
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[_Client] = set()
        self._viewers = 0  # subscribed clients among them
        #: every connection being served, handshaking ones included (MAX_CLIENTS caps it)
        self._handlers: set[asyncio.Task[Any]] = set()
        self._pending: list[bytes] = []  # `--output jsonl` lines of events not sent yet
        # The events' lines, shared with the jsonl reporter when there is one (each event
        # encoded once for both).
        self._lines = lines
        self._flush_handle: asyncio.TimerHandle | None = None
        self._slow_handle: asyncio.TimerHandle | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._closing = False
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> RunInfo:
        """Bind the socket and write the run's record; ControlError says why not."""
        folder = runtime_dir()
        run_id = new_run_id()
        path = socket_path(folder, run_id)
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            raise ControlError(
                f"control socket path {path} is too long for a Unix socket; "
                "set FLOW_TUI_RUNTIME_DIR to a shorter folder"
            )
        session = self.session
        checkpointer = session.checkpointer
        info = RunInfo(
            id=run_id,
            pid=os.getpid(),
            workflow=session.workflow.name,
            socket=str(path),
            started=now_iso(),
            checkpoint=str(checkpointer.path.resolve()) if checkpointer is not None else None,
            source=str(session.source.resolve()) if session.source is not None else None,
            cwd=os.getcwd(),
            front_end=self.front_end,
        )
        try:
            self._server = await asyncio.start_unix_server(
                self._connection, path=str(path), limit=MAX_MESSAGE
            )
            os.chmod(path, 0o600)
            write_info(info, folder)
        except OSError as exc:
            self._abort_start(folder, run_id)
            raise ControlError(
                f"cannot serve the control socket {path}: {exc.strerror or exc}"
            ) from exc
        self._folder = folder
        self.info = info
        session.control_path = str(path)
        if self._lines is None:
            self._lines = EventLines(session.workflow.name, executor=lambda: session.executor_info)
        self._lines.control = str(path)
        # Deferred: with no viewer a dashboard's burst of tasks is not slowed by this
        # listener; with viewers, _tick hands the run's events on every BATCH_SECONDS.
        session.subscribe(self._on_event, deferred=True)
        return info

    def _abort_start(self, folder: Path, run_id: str) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        remove_run_files(folder, run_id)

    async def close(self, bye: dict[str, Any] | None = None, *, hold: bool = False) -> None:
        """Tell every client the run ended (`bye`), then remove the socket and record.

        No connection is taken any more from the start (a client connecting now hears the
        run is gone); clients get at most CLOSE_SECONDS in all to read their `bye`.
        `hold`: the process is about to exit; see close_now.
        """
        if self._closing or self._closed:
            return
        self._closing = True
        if self._server is not None:
            self._server.close()
        self._flush()
        clients = list(self._clients)
        for client in clients:
            client.send({"type": "bye", **(bye or {})})
        drains = [asyncio.ensure_future(_drain_all(c.writer)) for c in clients]
        if drains:
            await asyncio.wait(drains, timeout=CLOSE_SECONDS)
            for drain in drains:
                drain.cancel()
        self.close_now(hold=hold)
        handlers = [t for t in self._handlers if t is not asyncio.current_task()]
        if handlers:
            # Each ends at once (its transport is aborted); waited for here so that the
            # loop's shutdown does not have to cancel them.
            await asyncio.wait(handlers, timeout=CLOSE_SECONDS)

    def close_now(self, bye: dict[str, Any] | None = None, *, hold: bool = False) -> None:
        """Remove the socket and the record at once (also where nothing can be awaited).

        With `bye`, each client whose connection has nothing left unsent gets it straight
        from the kernel's buffer (a forced exit: the process ends right after).

        `hold` (the process is about to exit): each client's connection stays open, on a
        descriptor of its own, until the kernel closes it with the process. A client that
        leaves at the run's end then leaves once the run's process is gone, instead of
        tearing itself down on the CPUs the run is still tearing itself down on (two
        viewers that exit at `bye` cost a 5k-task run's exit some 0.2x), and `flow-tui
        stop --wait` returns once the run has really gone."""
        if self._closed:
            return
        self._closed = True
        self._closing = True
        for handle in (self._flush_handle, self._slow_handle, self._tick_handle):
            if handle is not None:
                handle.cancel()
        if self._server is not None:
            self._server.close()
        line = encode({"type": "bye", **bye}) if bye is not None else None
        for client in list(self._clients):
            sock = client.writer.get_extra_info("socket")
            if line is not None and client.buffered() == 0:
                with contextlib.suppress(Exception):
                    os.write(sock.fileno(), line)  # non-blocking; a short line fits
            if hold:
                with contextlib.suppress(Exception):
                    _HELD_UNTIL_EXIT.append(os.dup(sock.fileno()))
            with contextlib.suppress(Exception):
                client.writer.transport.abort()
        self._clients.clear()
        self._viewers = 0
        if self._folder is not None and self.info is not None:
            remove_run_files(self._folder, self.info.id)

    # -- events to viewers -------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if not self._viewers or self._closed:
            return
        lines = self._lines
        if lines is None:
            return  # not served
        self._pending.append(lines.line(event))  # made socket messages by the batch
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(BATCH_SECONDS, self._flush)

    def _tick(self) -> None:
        """While viewers watch: every BATCH_SECONDS, the task events the run recorded
        for later (Session.deliver) are handed on, so they reach the viewers in time."""
        self._tick_handle = None
        if self._closed or not self._viewers:
            return
        self.session.deliver()
        loop = asyncio.get_running_loop()
        self._tick_handle = loop.call_later(BATCH_SECONDS, self._tick)

    def notify(self, text: str) -> None:
        """Tell the viewers what the run's operator is told (a stop asked, the grace
        over, a viewer dropped): a `notice` event, as `--output jsonl` writes it."""
        if not self._viewers or self._closed:
            return
        self._pending.append(event_line({"event": "notice", "ts": event_ts(), "message": text}))
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(BATCH_SECONDS, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        if not self._pending:
            return
        data = as_messages(self._pending)
        self._pending.clear()
        for client in list(self._clients):
            if not client.subscribed or client.gone:
                continue
            if self._too_slow(client):
                self._drop(client, "it did not read the run's events fast enough")
                continue
            client.write(data)
            client.after_write = client.buffered()
        self._watch_slow()

    @staticmethod
    def _too_slow(client: _Client) -> bool:
        """Over MAX_BUFFERED with nothing read for SLOW_SECONDS, or over the hard limit
        (unless what is over it is a reply it is still taking in, the state of a large
        run): a viewer that reads, even behind a burst or on a loaded machine (a pause of
        a few batches without the CPU), catches up and stays."""
        waiting = client.buffered()
        if waiting > MAX_BUFFERED_HARD and not client.reading_reply:
            return True
        if waiting <= MAX_BUFFERED or waiting < client.after_write:
            client.stalled_at = None  # under the limit, or it read since the last look
            return False
        now = asyncio.get_running_loop().time()
        if client.stalled_at is None:
            client.stalled_at = now
            return False
        return now - client.stalled_at >= SLOW_SECONDS

    def _watch_slow(self) -> None:
        """Look again in SLOW_SECONDS while a viewer is over MAX_BUFFERED: the run may
        send nothing more for a while, and a viewer that stopped reading goes anyway."""
        if self._slow_handle is not None or self._closed:
            return
        if any(c.subscribed and c.buffered() > MAX_BUFFERED for c in self._clients):
            loop = asyncio.get_running_loop()
            self._slow_handle = loop.call_later(SLOW_SECONDS, self._check_slow)

    def _check_slow(self) -> None:
        self._slow_handle = None
        for client in list(self._clients):
            if not client.subscribed or client.gone:
                continue
            if self._too_slow(client):
                self._drop(client, "it did not read the run's events fast enough")
            else:
                client.after_write = client.buffered()
        self._watch_slow()

    def _forget(self, client: _Client) -> None:
        if client in self._clients:
            self._clients.discard(client)
            if client.subscribed:
                self._viewers -= 1

    def _drop(self, client: _Client, why: str) -> None:
        self._forget(client)
        text = f"viewer ({client.label}) dropped: {why}"
        self.notice(text)
        self.notify(text)
        with contextlib.suppress(Exception):
            client.writer.transport.abort()

    # -- one connection ----------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        sock = writer.get_extra_info("socket")
        pid, uid = peer_uid(sock)
        if sock is not None:
            # Room in the kernel for a viewer's batches: the run hands them over in one
            # send each, and at its end leaves what a viewer has not read yet there.
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        client = _Client(writer, pid)
        cancelled = False
        try:
            if uid is not None and uid != os.getuid():
                client.send(
                    {
                        "type": "error",
                        "kind": "permission",
                        "error": "permission denied: this run belongs to another user",
                    }
                )
                return
            if self._closing:
                client.send(
                    {"type": "error", "kind": ERR_ENDED, "error": "the run has already ended"}
                )
                return
            if len(self._handlers) > MAX_CLIENTS:
                client.send({"type": "error", "kind": ERR_PROTOCOL, "error": "too many clients"})
                return
            if not await self._hello(reader, client):
                return
            self._clients.add(client)
            await self._serve(reader, client)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # The loop is shutting down: leave quietly (no traceback in the run's output).
            cancelled = True
        except Exception as exc:  # a bug of ours: this client goes, the run goes on
            self.notice(f"control: a client was dropped after an error: {exc!r}")
        finally:
            self._forget(client)
            if task is not None:
                self._handlers.discard(task)
            if cancelled:
                with contextlib.suppress(Exception):
                    writer.transport.abort()
            else:
                await self._close_writer(writer)

    async def _close_writer(self, writer: asyncio.StreamWriter) -> None:
        try:
            if not self._closing:
                await asyncio.wait_for(_drain(writer), 1.0)
        except (Exception, asyncio.CancelledError):
            pass
        with contextlib.suppress(Exception):
            writer.close()

    async def _read(self, reader: asyncio.StreamReader, client: _Client) -> bytes | None:
        """One whole line, or None when the client is gone or broke the size limit."""
        try:
            line = await reader.readline()
        except ValueError:  # longer than the reader's limit
            client.send(
                {
                    "type": "error",
                    "kind": ERR_PROTOCOL,
                    "error": f"message over {MAX_MESSAGE} bytes",
                }
            )
            return None
        if not line.endswith(b"\n"):
            return None  # end of stream, maybe after half a message: ignored
        return line

    async def _hello(self, reader: asyncio.StreamReader, client: _Client) -> bool:
        try:
            line = await asyncio.wait_for(self._read(reader, client), HELLO_SECONDS)
        except TimeoutError:
            client.send({"type": "error", "kind": ERR_PROTOCOL, "error": "no hello"})
            return False
        if line is None:
            return False
        try:
            hello = decode(line)
        except ProtocolError as exc:
            client.send({"type": "error", "kind": ERR_PROTOCOL, "error": str(exc)})
            return False
        version = hello.get("version")
        if hello.get("type") != "hello":
            client.send({"type": "error", "kind": ERR_PROTOCOL, "error": "expected a hello first"})
            return False
        if version != PROTOCOL_VERSION:
            client.send(
                {
                    "type": "error",
                    "kind": "version",
                    "version": PROTOCOL_VERSION,
                    "error": f"protocol version mismatch: this run speaks {PROTOCOL_VERSION}, "
                    f"the client {version!r}; use the flow-tui that started the run",
                }
            )
            return False
        client.send(
            {
                "type": "hello",
                "version": PROTOCOL_VERSION,
                "run": self.info.to_dict() if self.info else {},
            }
        )
        return True

    async def _serve(self, reader: asyncio.StreamReader, client: _Client) -> None:
        strikes = 0
        while True:
            line = await self._read(reader, client)
            if line is None:
                return
            try:
                message = decode(line)
            except ProtocolError as exc:
                strikes += 1
                client.send(
                    {
                        "type": "reply",
                        "id": None,
                        "ok": False,
                        "kind": ERR_PROTOCOL,
                        "error": str(exc),
                    }
                )
                if strikes >= MAX_STRIKES:
                    return
                continue
            await self._command(client, message)
            if client.gone:
                return  # it left: what it sent after is not read
            if client.reading_reply and not await self._reply_taken(client):
                if not client.gone and not self._closing:  # it left, or the run ends
                    self._drop(client, "it did not read the replies to its commands")
                return
            # Lines already buffered are read without waiting: let the run go on between
            # two commands, however many a client sends at once.
            await asyncio.sleep(0)

    async def _reply_taken(self, client: _Client) -> bool:
        """Wait until the kernel has taken `client`'s last reply (a large one): its next
        command is read after that, so a client that asks without reading cannot pile
        replies up in the run's memory. False when it took nothing for REPLY_STALL_SECONDS
        or left."""
        loop = asyncio.get_running_loop()
        taken, since = client.taken, loop.time()
        while client.reading_reply:
            if client.gone:
                return False
            now = loop.time()
            if client.taken > taken:
                taken, since = client.taken, now
            elif now - since > REPLY_STALL_SECONDS:
                return False
            await asyncio.sleep(REPLY_POLL_SECONDS)
        return True

    async def _command(self, client: _Client, message: dict[str, Any]) -> None:
        ident = message.get("id")
        if not isinstance(ident, (int, str)) or isinstance(ident, bool):
            ident = None
        cmd = message.get("cmd")

        def refuse(kind: str, error: str, **extra: Any) -> None:
            client.send(
                {"type": "reply", "id": ident, "ok": False, "kind": kind, "error": error, **extra}
            )

        if not isinstance(cmd, str) or cmd not in COMMANDS:
            refuse(ERR_USAGE, f"unknown command {cmd!r}; known: {', '.join(COMMANDS)}")
            return
        try:
            args = _arguments(cmd, message)
        except ProtocolError as exc:
            refuse(ERR_USAGE, str(exc))
            return
        controls = self.controls
        reply: dict[str, Any] = {"type": "reply", "id": ident, "ok": True}
        if cmd in STEERING and self.session.state.is_over:
            refuse(ERR_STATE, "the run has already ended")
            return
        try:
            if cmd == "status":
                reply["status"] = self.status()
            elif cmd == "state":
                reply["state"] = controls.full_state(self._run_dict())
            elif cmd == "subscribe":
                self.session.deliver()
                self._flush()  # what happened before this state is in it: not sent again
                reply["state"] = controls.full_state(self._run_dict())
                if not client.subscribed and client in self._clients:
                    client.subscribed = True
                    self._viewers += 1
                    if self._tick_handle is None:
                        self._tick()
            elif cmd == "snapshot":
                reply["snapshot"] = self.session.snapshot().to_dict()
            elif cmd == "pause":
                controls.pause(interrupt=args["interrupt"])
            elif cmd == "resume":
                controls.resume(
                    rerun_interrupted=args["rerun_interrupted"], mark_done=args["mark_done"]
                )
            elif cmd == "retry":
                reply["tasks"] = controls.retry(args["tasks"])
            elif cmd == "save":
                reply["path"] = str(await controls.save(args["path"]))
            elif cmd == "stop":
                controls.stop(args["grace"], f"flow-tui stop ({client.label})")
        except FlowError as exc:
            kind, text = describe_error(exc)
            extra: dict[str, Any] = {}
            names = getattr(exc, "names", None)
            if kind == "consent" and isinstance(names, list):
                extra["needs_consent"] = names
            refuse(kind, text, **extra)
            return
        except Exception as exc:  # e.g. an OSError of a save: one line, the run goes on
            refuse(ERR_SAVE if cmd == "save" else ERR_INTERNAL, f"{cmd} failed: {exc}")
            return
        if cmd not in ("status", "state", "subscribe", "snapshot"):
            reply["status"] = self.status()
        client.send(reply)

    def _run_dict(self) -> dict[str, Any]:
        return self.info.to_dict() if self.info is not None else {}

    def status(self) -> dict[str, Any]:
        """What `ps` shows of the run now (cheap: no task list)."""
        session = self.session
        state = session.state
        return {
            "state": state.value,
            "counts": session.counts(),
            "tasks": len(session.steps),
            "elapsed_s": round(session.elapsed(), 3),
            "paused_s": round(session.paused_seconds(), 3),
            "running": session.running[:20],
            "needs_consent": session.needs_consent,
            "exit_code": session.exit_code() if state.is_over else None,
            "viewers": sum(1 for c in self._clients if c.subscribed),
        }


async def _drain(writer: asyncio.StreamWriter) -> None:
    await writer.drain()


async def _drain_all(writer: asyncio.StreamWriter) -> None:
    """Until every byte written is with the kernel (drain() alone returns while up to the
    high-water mark still waits in the transport, which an abort would throw away)."""
    with contextlib.suppress(Exception):
        writer.transport.set_write_buffer_limits(high=0, low=0)
        await writer.drain()


def _arguments(cmd: str, message: dict[str, Any]) -> dict[str, Any]:
    """The checked arguments of `cmd` (ProtocolError names a bad one)."""
    args: dict[str, Any] = {}
    if cmd == "pause":
        args["interrupt"] = _flag(message, "interrupt")
    elif cmd == "resume":
        args["rerun_interrupted"] = _flag(message, "rerun_interrupted")
        args["mark_done"] = _names(message, "mark_done")
    elif cmd == "retry":
        args["tasks"] = _names(message, "tasks")
        if not args["tasks"]:
            raise ProtocolError("retry needs a non-empty list of task names in 'tasks'")
    elif cmd == "save":
        path = message.get("path")
        if not isinstance(path, str) or not path or "\0" in path:
            raise ProtocolError("save needs a file path in 'path'")
        if not os.path.isabs(path):
            raise ProtocolError("save needs an absolute path (the client resolves it)")
        args["path"] = path
    elif cmd == "stop":
        grace = message.get("grace")
        if grace is not None and (
            isinstance(grace, bool) or not isinstance(grace, (int, float)) or not grace >= 0
        ):
            raise ProtocolError("stop's 'grace' is a number of seconds >= 0, or null")
        args["grace"] = None if grace is None else float(grace)
    return args


def _flag(message: dict[str, Any], key: str) -> bool:
    value = message.get(key, False)
    if not isinstance(value, bool):
        raise ProtocolError(f"{key!r} is true or false")
    return value


def _names(message: dict[str, Any], key: str) -> list[str]:
    value = message.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{key!r} is a list of task names")
    if len(value) > 100_000:
        raise ProtocolError(f"{key!r} is too long")
    return value

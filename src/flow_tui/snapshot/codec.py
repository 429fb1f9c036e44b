"""JSON and TOML codecs for snapshots, atomic save, and load (with journal folding)."""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

from flow_tui.core.collector import collector_paused
from flow_tui.core.errors import SnapshotError
from flow_tui.core.graph import str_table
from flow_tui.core.model import TaskResult
from flow_tui.core.snapshot import FORMAT_VERSION, Snapshot, register_codec
from flow_tui.snapshot import schema
from flow_tui.snapshot.files import atomic_write, describe_os_error
from flow_tui.snapshot.plain import PLAIN_JSON, json_name, plain_fields

orjson: Any
try:  # reads a large document in about half the time of the json module
    import orjson
except ImportError:  # pragma: no cover - a dependency; the json module reads alone
    orjson = None

SUFFIXES = (".json", ".toml")

# TOML cannot hold null or integers beyond 64 bits: such a value travels as a JSON string
# under `<key>_json`, which decodes back to the same value.
_TOML_VALUE_KEYS = ("data", "context")


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# Results per piece of text the JSON writer hands on: large enough that the per-piece
# costs vanish, small enough that a 1M-task file is never whole in memory.
_RESULTS_PER_CHUNK = 2048


def iter_json(snapshot: Snapshot) -> Iterator[str]:
    """The JSON document, piece by piece: one line per key, then one line per result.

    One line per task keeps the file readable (and diffable); a plain success is written
    from a template (`plain.PLAIN_JSON`), any other result by the JSON encoder.
    """
    head = ["{"]
    for key, value in schema.header_to_dict(snapshot).items():
        head.append(f" {_json_dumps(key)}: {_json_dumps(value)},")
    results = snapshot.results
    if not results:
        head.append(' "results": {}\n}\n')
        yield "\n".join(head)
        return
    head.append(' "results": {\n')
    yield "\n".join(head)
    separator = ""
    items = iter(results.items())
    while chunk := list(islice(items, _RESULTS_PER_CHUNK)):
        yield separator + ",\n".join(_json_lines(chunk))
        separator = ",\n"
    yield "\n }\n}\n"


_PLAIN_LINE = '  "%s": ' + PLAIN_JSON


def _json_lines(chunk: list[tuple[str, TaskResult]]) -> list[str]:
    """The lines of these results (the loop that writes a large file: kept tight)."""
    names = "".join([name for name, _ in chunk])
    # Names that are written as they are (no escape), checked for the whole chunk at once.
    bare = names.isascii() and names.isprintable() and '"' not in names and "\\" not in names
    plain_line = _PLAIN_LINE
    lines = []
    for name, result in chunk:
        fields = plain_fields(result)
        if fields is None:
            lines.append(f"  {json_name(name)}: {_json_dumps(schema.result_to_dict(name, result))}")
        elif bare:
            lines.append(plain_line % (name, *fields))
        else:
            lines.append(f"  {json_name(name)}: {PLAIN_JSON % fields}")
    return lines


def to_json(snapshot: Snapshot) -> str:
    return "".join(iter_json(snapshot))


def _text(raw: str | bytes, source: str) -> str:
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SnapshotError(
                f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
    return raw


@contextlib.contextmanager
def _decoding() -> Iterator[None]:
    """The collector paused while a document is decoded, and what the decoding made
    moved to the oldest generation before it is back on.

    A 1M-result document makes millions of objects without a reference cycle. Back on,
    the collector would walk them all in a young collection at the next allocation
    (0.2 s at 1M), then again in the middle one, and their promotion would count
    towards a full collection, which walks everything alive. `gc.freeze()` followed
    by `gc.unfreeze()` moves every tracked object to the oldest generation, walking
    none; done only when nothing else has frozen objects (it would unfreeze them).
    """
    with collector_paused():
        yield
        if not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()


def from_json(raw: str | bytes, source: str = "snapshot") -> Snapshot:
    with _decoding():
        return _from_json(raw, source)


def _from_json(raw: str | bytes, source: str) -> Snapshot:
    if orjson is not None and isinstance(raw, bytes):
        read = _from_orjson(raw, source)
        if read is not None:
            return read
    text = _text(raw, source)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(
            f"{source}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise SnapshotError(f"{source}: not a snapshot (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise SnapshotError(f"{source}: not a snapshot ({exc})") from None
    return schema.from_dict(doc, source, owned=True)


def _from_orjson(raw: bytes, source: str) -> Snapshot | None:
    """The snapshot as orjson reads it (the bytes of a file: about half the time of the
    json module), or None when the json module must read it: orjson refuses the text
    (then json says precisely what is wrong, or reads what only it accepts, such as
    NaN), or it may have read an integer beyond 64 bits as a float.

    Such a float only matters where a value is kept as it is (data, context: from_dict
    raises LongIntegerRead) or where it is refused (an error naming its type, float,
    where the json module would read an int: then the json module reads the document
    and says what it says). Looked for there, not in the whole text beforehand.
    """
    by_pieces = _from_orjson_by_pieces(raw, source)
    if by_pieces is not None:
        return by_pieces
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    try:
        return schema.from_dict(doc, source, owned=True, floats_may_be_integers=True)
    except schema.LongIntegerRead:
        return None
    except SnapshotError:
        if schema.holds_long_float(doc):
            return None
        raise


# How `iter_json` lays out the results: one line per task between these two.
_RESULTS_OPEN = b'\n "results": {\n'
_RESULTS_CLOSE = b"\n }\n}"
_MEMBERS_APART = b",\n"
_JSON_SPACE = b" \t\r\n"
# Bytes of results parsed at a time: what one piece makes stays in the cache.
_PIECE_BYTES = 1 << 16


def _from_orjson_by_pieces(raw: bytes, source: str) -> Snapshot | None:
    """The snapshot of a document laid out as `iter_json` writes it, its results parsed
    a piece of lines at a time and each piece read at once; None for any other layout,
    and for anything wrong or unusual (then the whole document is read as one, which
    says what is wrong, in the same words).

    Parsed whole, a 1M-task document becomes 2M dicts that are all alive at once: about
    0.7 GB of fresh memory, whose page faults cost as much as the parsing. A piece's
    dicts are read into results and freed before the next piece is parsed, so the memory
    is used again, and still in the cache.

    The same as parsing the whole: the results object is `{`, members separated by
    commas, `}`. A piece is the text between two of the commas that end a line (a
    newline is never inside a string), parsed as an object: a cut at a comma inside a
    value leaves a bracket open in both pieces, which orjson refuses; a piece must hold
    a member (two commas in a row are not JSON); the members of all the pieces, in
    order, are those of the whole (a name given twice: its place the first time, its
    value the last, as in one dict). A piece is parsed inside one array, at the depth
    its members have in the document, for orjson's nesting limit. What precedes the
    results is parsed with `{}` for them; only whitespace may follow them.
    """
    start = raw.find(_RESULTS_OPEN)
    end = raw.rfind(_RESULTS_CLOSE)
    if start < 0:
        return None
    start += len(_RESULTS_OPEN)
    if end <= start or raw[end + len(_RESULTS_CLOSE) :].strip(_JSON_SPACE):
        return None
    try:
        header = orjson.loads(raw[:start] + b"}}")
        if type(header) is not dict or header.get("version") != FORMAT_VERSION:
            return None  # an older document is upgraded with its results: read it whole
        view = memoryview(raw)
        results: dict[str, TaskResult] = str_table()  # grows to every result
        pos = start
        while True:
            cut = raw.find(_MEMBERS_APART, min(pos + _PIECE_BYTES, end), end)
            last = cut < 0
            if last:
                cut = end
            piece = orjson.loads(b"".join((b"[{", view[pos:cut], b"}]")))[0]
            if not piece:
                return None
            names = [*piece]
            decoded = schema.results_from_lists(names, [*piece.values()], source, True)
            results.update(zip(names, decoded, strict=True))
            if last:
                break
            pos = cut + len(_MEMBERS_APART)
        return schema.from_header(header, results, source, floats_may_be_integers=True)
    except (orjson.JSONDecodeError, SnapshotError, schema.LongIntegerRead):
        return None


def pack_toml_value(table: dict[str, Any], key: str) -> None:
    """`table[key]`, if TOML cannot hold it, as JSON text under `<key>_json` instead."""
    if key in table and not schema.toml_safe(table[key]):
        table[f"{key}_json"] = _json_dumps(table.pop(key))


def to_toml(snapshot: Snapshot) -> str:
    import tomli_w  # imported when first needed: start-up of runs that never save TOML

    doc = schema.to_dict(snapshot)
    pack_toml_value(doc, "context")
    for result in doc["results"].values():
        pack_toml_value(result, "data")
    try:
        return tomli_w.dumps(doc)
    except (TypeError, ValueError) as exc:  # pragma: no cover - to_dict output is safe
        raise SnapshotError(f"cannot encode snapshot as TOML: {exc}") from None


def _untoml_value(table: dict[str, Any], key: str, source: str, where: str) -> None:
    packed = table.pop(f"{key}_json", None)
    if packed is None:
        return
    if not isinstance(packed, str):
        raise SnapshotError(f"{source}: {where}{key}_json must be a string")
    try:
        table[key] = json.loads(packed)
    except (ValueError, RecursionError):
        raise SnapshotError(f"{source}: {where}{key}_json is not valid JSON") from None


def from_toml(raw: str | bytes, source: str = "snapshot") -> Snapshot:
    with _decoding():
        return _from_toml(raw, source)


def _from_toml(raw: str | bytes, source: str) -> Snapshot:
    import tomllib

    text = _text(raw, source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SnapshotError(f"{source}: not valid TOML ({exc})") from None
    except RecursionError:
        raise SnapshotError(f"{source}: not a snapshot (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise SnapshotError(f"{source}: not a snapshot ({exc})") from None
    _untoml_value(doc, "context", source, "")
    results = doc.get("results")
    if isinstance(results, dict):
        for name, result in results.items():
            if isinstance(result, dict):
                _untoml_value(result, "data", source, f"results.{name}.")
    return schema.from_dict(doc, source, owned=True)


def encode(snapshot: Snapshot, suffix: str) -> bytes:
    return b"".join(encode_chunks(snapshot, suffix))


def encode_chunks(snapshot: Snapshot, suffix: str) -> Iterator[bytes]:
    """The file's bytes, in pieces: a JSON document is never whole in memory."""
    if suffix == ".json":
        return (text.encode("utf-8") for text in iter_json(snapshot))
    if suffix == ".toml":
        return iter((to_toml(snapshot).encode("utf-8"),))
    raise SnapshotError(f"unknown snapshot suffix {suffix!r}: use .json or .toml")


def codec_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SnapshotError(
            f"cannot tell the format of {path}: the name must end in .json or .toml"
        )
    return suffix


def save(snapshot: Snapshot, path: str | Path) -> Path:
    target = Path(path)
    return atomic_write(target, encode_chunks(snapshot, codec_suffix(target)))


def decode(raw: bytes, path: Path) -> Snapshot:
    source = str(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return from_json(raw, source)
    if suffix == ".toml":
        return from_toml(raw, source)
    if raw.lstrip()[:1] == b"{":
        return from_json(raw, source)
    return from_toml(raw, source)


def read_file(path: Path) -> Snapshot:
    """Read one snapshot file, without its journal."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SnapshotError(f"snapshot {path} does not exist") from None
    except IsADirectoryError:
        raise SnapshotError(f"snapshot {path} is a folder, not a file") from None
    except OSError as exc:
        raise SnapshotError(f"cannot read snapshot {path}: {describe_os_error(exc)}") from None
    return decode(raw, path)


def load(path: str | Path) -> Snapshot:
    from flow_tui.snapshot.journal import fold_journal

    target = Path(path)
    with _decoding():  # the journal's records too: one per task start and end
        return fold_journal(read_file(target), target)


class _Codec:
    """The implementation core's Snapshot delegates to."""

    def to_dict(self, snapshot: Snapshot) -> dict[str, Any]:
        return schema.to_dict(snapshot)

    def from_dict(self, document: Mapping[str, Any], source: str = "snapshot") -> Snapshot:
        with _decoding():
            return schema.from_dict(document, source)

    def to_json(self, snapshot: Snapshot) -> str:
        return to_json(snapshot)

    def from_json(self, text: str | bytes, source: str = "snapshot") -> Snapshot:
        return from_json(text, source)

    def to_toml(self, snapshot: Snapshot) -> str:
        return to_toml(snapshot)

    def from_toml(self, text: str | bytes, source: str = "snapshot") -> Snapshot:
        return from_toml(text, source)

    def save(self, snapshot: Snapshot, path: str | Path) -> Path:
        return save(snapshot, path)

    def load(self, path: str | Path) -> Snapshot:
        return load(path)


register_codec(_Codec())

"""JSON and TOML codecs for snapshots, atomic save, and load (with journal folding)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flow_tui.core.errors import SnapshotError
from flow_tui.core.snapshot import Snapshot, register_codec
from flow_tui.snapshot import schema
from flow_tui.snapshot.files import atomic_write, describe_os_error

SUFFIXES = (".json", ".toml")

# TOML cannot hold null or integers beyond 64 bits: such a value travels as a JSON string
# under `<key>_json`, which decodes back to the same value.
_TOML_VALUE_KEYS = ("data", "context")


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def to_json(snapshot: Snapshot) -> str:
    doc = schema.to_dict(snapshot)
    results = doc.pop("results")
    # One line per task keeps the file readable and lets the C encoder do the work.
    lines = ["{"]
    for key, value in doc.items():
        lines.append(f" {_json_dumps(key)}: {_json_dumps(value)},")
    if results:
        lines.append(' "results": {')
        items = [f"  {_json_dumps(k)}: {_json_dumps(v)}" for k, v in results.items()]
        lines.append(",\n".join(items))
        lines.append(" }")
    else:
        lines.append(' "results": {}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _text(raw: str | bytes, source: str) -> str:
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SnapshotError(
                f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
    return raw


def from_json(raw: str | bytes, source: str = "snapshot") -> Snapshot:
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
    return schema.from_dict(doc, source)


def _toml_value(table: dict[str, Any], key: str) -> None:
    if key in table and not schema.toml_safe(table[key]):
        table[f"{key}_json"] = _json_dumps(table.pop(key))


def to_toml(snapshot: Snapshot) -> str:
    import tomli_w  # imported when first needed: start-up of runs that never save TOML

    doc = schema.to_dict(snapshot)
    _toml_value(doc, "context")
    for result in doc["results"].values():
        _toml_value(result, "data")
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
    return schema.from_dict(doc, source)


def encode(snapshot: Snapshot, suffix: str) -> bytes:
    if suffix == ".json":
        return to_json(snapshot).encode("utf-8")
    if suffix == ".toml":
        return to_toml(snapshot).encode("utf-8")
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
    payload = encode(snapshot, codec_suffix(target))
    return atomic_write(target, payload)


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
    return fold_journal(read_file(target), target)


class _Codec:
    """The implementation core's Snapshot delegates to."""

    def to_dict(self, snapshot: Snapshot) -> dict[str, Any]:
        return schema.to_dict(snapshot)

    def from_dict(self, document: Mapping[str, Any], source: str = "snapshot") -> Snapshot:
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

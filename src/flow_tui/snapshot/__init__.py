"""Snapshot persistence: the document schema, JSON/TOML codecs, atomic save, the journal."""

from flow_tui.core.snapshot import FORMAT_NAME, FORMAT_VERSION, Snapshot
from flow_tui.snapshot.codec import SUFFIXES, codec_suffix, load, read_file, save
from flow_tui.snapshot.schema import SnapshotDataWarning

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SUFFIXES",
    "Snapshot",
    "SnapshotDataWarning",
    "codec_suffix",
    "load",
    "read_file",
    "save",
]

"""Whether two paths name the same file, in one place for every layer that asks (the
workflow loader, the checkpoint a resume takes over, `flow-tui save` and `report`, a RUN
given as a checkpoint path)."""

from __future__ import annotations

import os
from pathlib import Path


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when `a` and `b` resolve to the same path (relative ones against the current
    folder, symlinks followed); False when either cannot be resolved."""
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False

"""Keeping Python's cyclic garbage collector out of the way of work that only allocates.

Building a large graph, planning a resume and decoding a snapshot make millions of objects
that form no reference cycles, and every full collection they trigger walks everything
alive (the step list, the results decoded so far): at 100k-1M tasks that cost more than
the work itself. Nothing is collected less in the end: the collector comes back on after.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off inside the block (left alone when something already turned it
    off)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

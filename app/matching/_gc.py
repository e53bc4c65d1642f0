"""Pause the cyclic garbage collector while a Match is validated and run.

Validation and the engine allocate hundreds of thousands of lists and dicts and create no reference
cycles, so every collection the allocations trigger is wasted work: at NRMP scale, with a large
request body alive, the repeated full-heap scans cost more than the Match itself. Reference
counting still frees everything as usual. Nested and concurrent uses are counted; the collector is
switched back on when the last one ends, and only if it was on before.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()

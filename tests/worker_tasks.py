"""Work for the launcher's worker processes in tests: importable with the standard library alone, so that a
worker unpickling it imports nothing else (the preload test reads ``sys.modules`` there)."""

from __future__ import annotations

import sys
import time


def burn(seconds: float) -> tuple[bool, float]:
    """Whether the worker started with ``wave`` imported (only the fork server's preload imports it), and the
    CPU the worker used."""
    started = time.process_time()
    preloaded = "wave" in sys.modules
    while time.process_time() - started < seconds:
        pass
    return preloaded, time.process_time()


def collector_thresholds(_: object) -> tuple[int, int, int]:
    """The worker's garbage-collector thresholds (what the pool's initializer set)."""
    import gc

    return gc.get_threshold()

"""Peak resident memory of this process, the same number on Linux, macOS and Windows."""

from __future__ import annotations

import sys


def peak_rss_mb() -> float | None:
    """The process's peak resident set size in MiB, or None where the platform offers no reading.

    POSIX ``getrusage`` reports ``ru_maxrss`` in KiB on Linux but in bytes on macOS; Windows has no ``resource``
    module, and psutil (installed with accelerate) reads the peak working set there instead.
    """
    try:
        import resource
    except ImportError:  # Windows
        try:
            import psutil

            return round(psutil.Process().memory_info().peak_wset / 2**20, 1)
        except (ImportError, AttributeError):
            return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)

"""C allocator settings for long runs: big buffers (video frames) go back to the system when freed."""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter
MMAP_THRESHOLD_BYTES = 256 * 1024


def pin_mmap_threshold(nbytes: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Serve every allocation of ``nbytes`` or more by mmap (glibc); True when it did something.

    glibc raises its threshold to the largest block freed so far (up to 32 MB); multi-megabyte
    video frames then come from its arenas, which keep them after free. The soak measured 160 MB
    of freed heap kept for 40 MB in use and RSS up 17 MB over 50,000 switches; pinned: flat.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):  # not glibc: its allocator has its own policy
        return False
    done = bool(mallopt(M_MMAP_THRESHOLD, nbytes))
    if done:
        log.info("allocator: blocks of %d KiB and more are mapped and returned when freed", nbytes // 1024)
    return done

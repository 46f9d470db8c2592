"""Work around PySide6 6.12 dropping references to None/True/False on Python 3.11.

The 6.12 wheels (abi3) return ``None``/``True``/``False`` without taking a reference, as if
they were immortal (they are from Python 3.12 on). On 3.11 every void Qt call then lowers
None's refcount by one, and the process aborts with ``none_dealloc`` after a few thousand
calls. :func:`make_singletons_immortal` gives the three singletons a reference count no
run can exhaust; it is called once at start-up (and by the tests), never on import.
"""

from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 40


def make_singletons_immortal() -> bool:
    """Raise the refcounts of None, True and False out of reach; True when it did something."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    for obj in (None, True, False):
        ref = ctypes.c_ssize_t.from_address(id(obj))
        if ref.value < _BOOST:
            ref.value += _BOOST
    return True

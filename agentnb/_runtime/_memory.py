"""Big messages without page faults: glibc asked to keep the memory they need.

A message of mebibytes is copied several times on its way (serialized, into
gRPC's buffers, out of them, parsed, into the ``Msg``), each copy a fresh
allocation. By default glibc serves such sizes with fresh ``mmap`` pages and
hands memory freed at the top of its heap back to the system at once, so every
call faults all those pages in again: 10,000 page faults per 10 MiB round trip
in the driver, 30,000 in the server, and a p50 of 220 ms where plain grpcio
takes 35 ms. Measured on this project's 2-core machine, p50 of a round trip
(plain grpcio with the same bytes: about 5 ms and 35 ms):

* 1 MiB: 17 ms untuned, 9.6 ms tuned;
* 10 MiB: 220 ms untuned; 130 ms with only the driver tuned; 82 ms with both
  ends tuned (the driver and the server each copy the message several times).

So the first message of ``BIG`` bytes or more a process moves makes glibc
serve allocations under 32 MiB from its heap, and keep top padding of six
times the biggest message seen (16 to 64 MiB). A process that moved big
messages keeps that much more memory resident per malloc arena; one that never
does is left as it was. Not glibc, or any ``MALLOC_*`` tunable set in the
environment (``MALLOC_TOP_PAD_``, ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``: the user decides): left alone.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

#: Messages from this size on tune the allocator.
BIG = 256 * 1024
#: glibc's malloc.h parameter numbers for mallopt.
M_TOP_PAD, M_MMAP_THRESHOLD = -2, -3
MMAP_THRESHOLD = 32 * 1024 * 1024
MIN_PAD, MAX_PAD = 16 * 1024 * 1024, 64 * 1024 * 1024

_lock = threading.Lock()
_pad = 0
_TUNABLES = ("MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
_off = not sys.platform.startswith("linux") or any(k in os.environ for k in _TUNABLES)


def big_message(size: int) -> None:
    """Note a message of ``size`` bytes; big ones tune the allocator (once per new size class)."""
    global _pad, _off
    if _off or size < BIG:
        return
    pad = min(max(MIN_PAD, 6 * size), MAX_PAD)
    if pad <= _pad:
        return
    with _lock:
        if pad <= _pad:
            return
        try:
            libc = ctypes.CDLL(None)
            if not _pad:
                libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            libc.mallopt(M_TOP_PAD, pad)
        except (OSError, AttributeError):  # not glibc (musl has no mallopt)
            _off = True
            return
        _pad = pad

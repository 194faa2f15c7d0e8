"""Big messages without page faults while they flow, and their memory given back once they stop.

A message of mebibytes is copied several times on its way (serialized, into
gRPC's buffers, out of them, parsed, into the ``Msg``), each copy a fresh
allocation. By default glibc serves such sizes with fresh ``mmap`` pages and
hands memory freed at the top of its heap back to the system at once, so every
call faults all those pages in again: 10,000 page faults per 10 MiB round trip
in the driver, 30,000 in the server, and a p50 of 220 ms where plain grpcio
takes 35 ms (over the gRPC stream; shared memory, :mod:`._shm`, now carries
most big messages between processes of one host).

So the first message of ``BIG`` bytes or more a process moves makes glibc
serve allocations under 32 MiB from its heap, and keep top padding of six
times the biggest message seen (16 to 64 MiB). That memory stays with the
process: each malloc arena (gRPC's and the agents' threads each get one, up
to 8 per core) keeps its top padding and every free chunk inside its heap,
so a burst of big replies read by many threads left a server hundreds of MiB
bigger for good (400 replies of 500 KB: +160 MiB; 64 of 8 MiB: +470 MiB).

Hence the trimmer: a thread, started with the first big message, that calls
``malloc_trim(0)`` once the process moved no big message for ``QUIET_S``
seconds, and then every ``CHECK_S`` seconds whenever ``RETRIM`` bytes or
more were freed since (a reply released later, a message the user dropped).
``malloc_trim`` gives back the free pages inside every arena but the top of
an arena other than the main one, which only that arena's own frees shrink;
so threads that start after this module loads share the main arena
(:func:`share_one_arena`; the servers agentnb launches get
``MALLOC_ARENA_MAX=1``). Messages that keep flowing keep their memory and
their speed; the first one after a quiet spell faults its pages in again.
``benchmarks/bench_memory.py`` measures both (a server and its driver back
within 11 MiB 5 to 14 s after either burst above; round trips in a row as
fast as without trimming; a 10 MiB round trip after a quiet spell about
50 ms instead of 12 ms).

Not glibc, or any of ``MALLOC_TOP_PAD_``, ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES`` set in the environment (the
user decides): left alone; ``MALLOC_ARENA_MAX`` set: the arenas are left
alone.
``AGENTNB_MALLOC_TRIM=0`` tunes without trimming or sharing an arena (what
agentnb did before; the benchmark compares).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger("agentnb")

#: Messages from this size on tune the allocator.
BIG = 256 * 1024
#: glibc's malloc.h parameter numbers for mallopt.
M_TOP_PAD, M_MMAP_THRESHOLD, M_ARENA_MAX = -2, -3, -8
MMAP_THRESHOLD = 32 * 1024 * 1024
MIN_PAD, MAX_PAD = 16 * 1024 * 1024, 64 * 1024 * 1024
#: No big message for this many seconds: give free memory back.
QUIET_S = 5.0
#: Then look this often for memory freed since the last trim.
CHECK_S = 5.0
#: Freed bytes worth another trim.
RETRIM = 16 * 1024 * 1024
TRIM_ENV = "AGENTNB_MALLOC_TRIM"
ARENA_ENV = "MALLOC_ARENA_MAX"

_lock = threading.Lock()
_pad = 0
_last_big = 0.0  # time.monotonic() of the latest big message
_trimmer_pid = 0  # the process whose trimmer runs (a forked child starts its own)
_TUNABLES = ("MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
_off = not sys.platform.startswith("linux") or any(k in os.environ for k in _TUNABLES)
_trim = os.environ.get(TRIM_ENV, "1") != "0"


def share_one_arena() -> None:
    """Have threads that start from now on allocate from the main arena, the one whose every
    free page ``malloc_trim`` gives back (called before agentnb starts its threads).

    glibc fixes how many arenas it makes once a process has more than 8, so in a process
    that already has that many this changes nothing. ``MALLOC_ARENA_MAX`` set: left alone.
    """
    if _off or not _trim or ARENA_ENV in os.environ:
        return
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)
    except (OSError, AttributeError):  # not glibc
        pass


def arenas_for_servers() -> str:
    """``MALLOC_ARENA_MAX`` for the servers this process launches (unless set already)."""
    return "1" if _trim else "2"


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks")
        + ("fordblks", "keepcost")
    ]


def big_message(size: int) -> None:
    """Note a message of ``size`` bytes; big ones tune the allocator (once per new size class)
    and hold the trimmer off."""
    global _last_big
    if _off or size < BIG:
        return
    _last_big = time.monotonic()
    if _trim and _trimmer_pid != os.getpid():
        _start_trimmer()
    pad = min(max(MIN_PAD, 6 * size), MAX_PAD)
    if pad <= _pad:
        return
    _tune(pad)


def _tune(pad: int) -> None:
    global _pad, _off
    with _lock:
        if pad <= _pad or _off:
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


def _start_trimmer() -> None:
    global _trimmer_pid
    with _lock:
        if _trimmer_pid == os.getpid():
            return
        _trimmer_pid = os.getpid()
        threading.Thread(target=_trimmer, args=(_trimmer_pid,), name="agentnb-trim", daemon=True).start()


def _trimmer(pid: int) -> None:
    """Give free memory back once big messages stop, and again when more is freed later."""
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    free_bytes = _free_bytes(libc)
    trimmed_at, low = 0.0, 0
    while os.getpid() == pid:
        quiet = time.monotonic() - _last_big
        if quiet < QUIET_S:
            time.sleep(QUIET_S - quiet)
            continue
        free = free_bytes()
        low = min(low, free)
        if _last_big > trimmed_at or free - low >= RETRIM:
            start = time.perf_counter()
            trim(0)
            trimmed_at, low = time.monotonic(), free_bytes()
            log.debug("agentnb: gave free memory back in %.1f ms", (time.perf_counter() - start) * 1e3)
        time.sleep(CHECK_S)


def _free_bytes(libc: ctypes.CDLL) -> Callable[[], int]:
    """A function telling the bytes free inside malloc's arenas (glibc 2.33+; else always 2**62,
    so every check trims: cheap when there is nothing to give back)."""
    try:
        mallinfo2 = libc.mallinfo2
    except AttributeError:
        return lambda: 1 << 62
    mallinfo2.restype = _Mallinfo2
    return lambda: int(mallinfo2().fordblks)


share_one_arena()  # on import, before agentnb (or gRPC) starts a thread

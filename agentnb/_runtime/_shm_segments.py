"""The segments of shared memory one process writes, and its mappings of other processes' ones.

A segment is a file of ``/dev/shm`` (mode 0600): a 64-byte header (the
state, ``WAITING`` or ``READ``, and the generation of the message in it,
two little-endian uint64) and the message's bytes after it. Its writer keeps
it mapped and writes each message into pages the kernel already gave it; a
reader keeps its mapping a while, since mapping a file costs a page fault per
page (see :mod:`._shm` for the protocol and the clean-up).
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
import time

from .._core._errors import MessageError

FOLDER = "/dev/shm"
#: A segment's header: state (WAITING or READ), generation; the message follows at HEADER.
HEAD = struct.Struct("<QQ")
HEADER = 64
READ, WAITING = 0, 1
#: A message nobody read within this many seconds gives its segment back.
UNREAD_TTL = 60.0
#: Segments one process keeps at most; with all busy, big messages go through gRPC.
MAX_SEGMENTS = 8
#: A segment unused for this many seconds is removed.
IDLE_S = 10.0
#: Segments grow in steps of this many bytes (so a slightly bigger message reuses one).
STEP = 1024 * 1024


class Segment:
    """One of this process's segments: a file of /dev/shm, mapped once, it writes messages into."""

    __slots__ = ("name", "fd", "map", "capacity", "generation", "sent_at", "used_at")

    def __init__(self, name: str, fd: int) -> None:
        self.name, self.fd = name, fd
        self.map: mmap.mmap | None = None
        self.capacity = 0  # bytes a message may have
        self.generation = 0
        self.sent_at = 0.0  # when its message was written (0: it holds none)
        self.used_at = time.monotonic()

    def free(self, now: float) -> bool:
        """Whether its message was read (or nobody read it in time)."""
        if not self.sent_at or now - self.sent_at > UNREAD_TTL or self.map is None:
            return True
        return HEAD.unpack_from(self.map, 0) == (READ, self.generation)

    def grow(self, size: int) -> None:
        """Room for ``size`` bytes (the file and its mapping grow in steps of ``STEP``).

        Raises:
            OSError: /dev/shm has no room (its pages are taken now, never when written: a
                write through a mapping of a full tmpfs would kill the process with SIGBUS).
        """
        if self.capacity >= size:
            return
        capacity = -(-size // STEP) * STEP
        os.posix_fallocate(self.fd, 0, HEADER + capacity)
        if self.map is not None:
            self.map.close()
            self.map = None
        self.map = mmap.mmap(self.fd, HEADER + capacity)
        self.capacity = capacity

    def write(self, data: bytes) -> None:
        assert self.map is not None
        self.map[HEADER : HEADER + len(data)] = data  # into pages the kernel gave already: no faults
        HEAD.pack_into(self.map, 0, WAITING, self.generation)

    def close(self) -> None:
        if self.map is not None:
            self.map.close()
        os.close(self.fd)


class Mapped:
    """A mapping of a peer's segment, kept while it is read again and again."""

    __slots__ = ("fd", "map", "users", "used_at")

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.map = mmap.mmap(fd, size)
        self.users = 0
        self.used_at = time.monotonic()

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


class Peers:
    """Mappings of peers' segments (mapping costs a page fault per page: keep them a while)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.maps: dict[str, Mapped] = {}

    def open(self, name: str, need: int, what: str) -> Mapped:
        """A mapping of segment ``name`` of at least ``need`` bytes, in use until :meth:`done`."""
        with self.lock:
            mapped = self.maps.get(name)
            if mapped is not None and len(mapped.map) < need and not mapped.users:
                del self.maps[name]  # the sender grew it
                mapped.close()
                mapped = None
            if mapped is None or len(mapped.map) < need:
                fresh = map_peer(name, need, what)
                if mapped is None:
                    self.maps[name] = fresh
                    self._evict()
                mapped = fresh
            mapped.users += 1
            mapped.used_at = time.monotonic()
            return mapped

    def done(self, mapped: Mapped) -> None:
        with self.lock:
            mapped.users -= 1
            if not mapped.users and all(m is not mapped for m in self.maps.values()):
                mapped.close()  # (one made for a single read)

    def _evict(self) -> None:
        while len(self.maps) > MAX_SEGMENTS:
            name = next((n for n, m in self.maps.items() if not m.users), None)
            if name is None:
                return
            self.maps.pop(name).close()

    def forget(self, everything: bool) -> None:
        now = time.monotonic()
        with self.lock:
            for name, mapped in list(self.maps.items()):
                if mapped.users:
                    continue
                if everything or now - mapped.used_at > IDLE_S or os.fstat(mapped.fd).st_nlink == 0:
                    del self.maps[name]
                    mapped.close()


def map_peer(name: str, need: int, what: str) -> Mapped:
    """Open and map a peer's segment, checked to be this user's and big enough."""
    try:
        fd = os.open(os.path.join(FOLDER, name), os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise MessageError(f"{what} was in shared memory {name}, which is gone ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid() or info.st_size < need:
            raise MessageError(f"{what}: shared memory {name} is not the segment it was said to be")
        return Mapped(fd, info.st_size)
    except BaseException:
        os.close(fd)
        raise


def remove(name: str) -> int:
    path = os.path.join(FOLDER, name)
    try:
        if os.stat(path, follow_symlinks=False).st_uid != os.geteuid():
            return 0
        os.unlink(path)
    except OSError:
        return 0
    return 1

"""Agent classes the tests use; importable, so launchers in other processes can build them."""

from __future__ import annotations

import os
import threading
import time

from agentnb import AgentBase, Msg


class Echo(AgentBase):
    """Replies with the content it got (None for no input)."""

    def reply(self, x=None):
        content = None if x is None else [m.content for m in x] if isinstance(x, list) else x.content
        return Msg(self.name, content)


class Shout(AgentBase):
    def reply(self, x=None):
        print("got", x.content)
        return Msg(self.name, x.content.upper())


class Counter(AgentBase):
    """Counts its calls; state that must survive on the server."""

    def __init__(self, name: str, start: int = 0) -> None:
        super().__init__(name)
        self.count = start

    def reply(self, x=None):
        self.count += 1
        return Msg(self.name, self.count)


class Timed(AgentBase):
    """Works for ``seconds`` and reports when it ran, in which process."""

    def __init__(self, name: str, seconds: float = 0.3) -> None:
        super().__init__(name)
        self.seconds = seconds

    def reply(self, x=None):
        start = time.time()
        time.sleep(self.seconds)  # the work being timed, not a synchronisation
        inputs = [] if x is None else [m.content for m in (x if isinstance(x, list) else [x])]
        return Msg(self.name, {"start": start, "end": time.time(), "pid": os.getpid(), "inputs": inputs})


class Turns(AgentBase):
    """The seed's conversation: each turn adds one; says 'exit' at ``last``."""

    def __init__(self, name: str, last: int = 6) -> None:
        super().__init__(name)
        self.last = last

    def reply(self, x=None):
        n = 0 if x is None else x.content
        n += 1
        return Msg(self.name, "exit" if n >= self.last else n)


class Fails(AgentBase):
    def reply(self, x=None):
        raise ValueError(f"cannot handle {x.content!r}")


class Gate(AgentBase):
    """Blocks in reply until a file appears (a cross-process event for tests)."""

    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.path = path

    def reply(self, x=None):
        deadline = time.monotonic() + 60
        while not os.path.exists(self.path) and time.monotonic() < deadline:
            time.sleep(0.01)
        return Msg(self.name, os.getpid())


class Memory(AgentBase):
    def reply(self, x=None):
        return Msg(self.name, [m.content for m in self.memory])


class PidReporter(AgentBase):
    def reply(self, x=None):
        return Msg(self.name, {"pid": os.getpid(), "thread": threading.get_ident()})


class Homebody(AgentBase):
    """Refuses to be built anywhere but in the process given: fails on a server."""

    def __init__(self, name: str, home_pid: int) -> None:
        super().__init__(name)
        if os.getpid() != home_pid:
            raise RuntimeError("I only live in my home process")

    def reply(self, x=None):
        return Msg(self.name, "home")


class Blob(AgentBase):
    """Replies with ``size`` characters (a reply too big to travel with its outcome)."""

    def __init__(self, name: str, size: int = 100_000) -> None:
        super().__init__(name)
        self.size = size

    def reply(self, x=None):
        return Msg(self.name, "x" * self.size)


class Talker(AgentBase):
    """Prints 100 numbered lines in two halves (for tests of the live output).

    Built in a launcher of the test's own process, it can be handed events: it
    waits for ``go_on`` between the halves, sets ``printed`` after the second
    half, and returns once ``finish`` is set.
    """

    def __init__(self, name: str, go_on=None, printed=None, finish=None) -> None:
        super().__init__(name)
        self.go_on, self.printed, self.finish = go_on, printed, finish

    def reply(self, x=None):
        for i in range(1, 51):
            print(f"line {i}")
        if self.go_on is not None:
            self.go_on.wait(60)
        for i in range(51, 101):
            print(f"line {i}")
        if self.printed is not None:
            self.printed.set()
        if self.finish is not None:
            self.finish.wait(60)
        return Msg(self.name, "done")


class Stepper(AgentBase):
    """Counts its calls and prints each step before replying."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.count = 0

    def reply(self, x=None):
        self.count += 1
        print(f"step {self.count}")
        return Msg(self.name, self.count)


class Busy(AgentBase):
    """Says it is working, works for ``seconds``, and replies with its name."""

    def __init__(self, name: str, seconds: float = 2.0) -> None:
        super().__init__(name)
        self.seconds = seconds

    def reply(self, x=None):
        print("working ...")
        time.sleep(self.seconds)  # the work whose print must not be lost, not a synchronisation
        return Msg(self.name, self.name)


class Speaker(AgentBase):
    """A conversation turn: prints what it heard, then answers with one more."""

    def reply(self, x=None):
        n = 0 if x is None else x.content
        print(f"{self.name} heard {n}")
        return Msg(self.name, n + 1)


class Warns(AgentBase):
    """Logs a warning, then raises."""

    def reply(self, x=None):
        import logging

        logging.getLogger("warns").warning("about to fail on %s", x.content)
        raise ValueError(f"failed on {x.content}")


class Slow(AgentBase):
    """Takes ``seconds`` to build (a model that loads slowly)."""

    def __init__(self, name: str, seconds: float = 2.0) -> None:
        super().__init__(name)
        time.sleep(seconds)  # the slow constructor being tested, not a synchronisation

    def reply(self, x=None):
        return Msg(self.name, "ready")


class Built(AgentBase):
    """Says in which process its constructor ran, and how often."""

    builds = 0

    def __init__(self, name: str) -> None:
        super().__init__(name)
        Built.builds += 1
        self.pid = os.getpid()

    def reply(self, x=None):
        return Msg(self.name, {"pid": self.pid, "builds": Built.builds})


class Flood(AgentBase):
    """Prints ``x.content`` MiB of text and replies with as much (for the byte budgets' tests)."""

    def reply(self, x=None):
        mib = x.content
        print(("p" * 1023 + "\n") * int(mib * 1024), end="")
        return Msg(self.name, "r" * int(mib * 2**20))


class Mover(AgentBase):
    """Tries to move itself again from inside the server that hosts it."""

    def reply(self, x=None):
        self.to_dist()
        return Msg(self.name, "moved")


class Sum(AgentBase):
    """Replies with 1 + the sum of its inputs' contents (numbers): a step of a dataflow."""

    def reply(self, x=None):
        items = [] if x is None else x if isinstance(x, list) else [x]
        return Msg(self.name, 1 + sum(m.content for m in items))


class Tally(AgentBase):
    """Counts the calls it answered: replies [how many so far, what it got]."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.count = 0

    def reply(self, x=None):
        self.count += 1
        return Msg(self.name, [self.count, None if x is None else x.content])


class Asker(AgentBase):
    """Asks another agent (given to its constructor) ``times`` questions at once, and replies with
    the answers, and whether its server reached that agent in-process."""

    def __init__(self, name: str, other, times: int = 1) -> None:
        super().__init__(name)
        self.other, self.times = other, times

    def reply(self, x=None):
        asked = [self.other(Msg(self.name, i)) for i in range(self.times)]
        first = asked[0].content  # read at once: sent from this thread
        rest = [p.content for p in asked[1:]]
        return Msg(self.name, {"answers": [first, *rest], "local": self.other.link.local is not None})

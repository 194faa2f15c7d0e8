"""The seed's programs, run as written with only the imports changed.

    python examples/seed.py

1. The multi-process conversation loop (two agents, two server processes).
2. The dataflow graph A->B, A->C, B->D, C->D, E->F, D->F written as sequential
   calls: B and C run at the same time, E does not wait for A..D.
"""

from __future__ import annotations

import time

import agentnb
from agentnb import AgentBase, Msg


class Talker(AgentBase):
    def __init__(self, name: str, last: int = 6) -> None:
        super().__init__(name)
        self.last = last

    def reply(self, x=None):
        n = (0 if x is None else x.content) + 1
        print("turn", n)  # shown here, prefixed by the agent's name
        return Msg(self.name, "exit" if n >= self.last else n)


class Worker(AgentBase):
    def reply(self, x=None):
        start = time.time()
        time.sleep(0.5)  # stands in for real work (an LLM call, a tool)
        return Msg(self.name, {"start": start, "end": time.time()})


def conversation() -> None:
    a = Talker(name="A").to_dist()
    b = Talker(name="B").to_dist()
    x = None
    while x is None or x.content != "exit":
        x = a(x)
        x = b(x)
    print("conversation ended with", x.name, "saying", repr(x.content))


def dataflow() -> None:
    A, B, C, D, E, F = (Worker(name=n).to_dist() for n in "ABCDEF")
    t0 = time.time()
    a = A()
    b = B(a)
    c = C(a)
    d = D([b, c])
    e = E()
    f = F([e, d])
    print(f"all six calls returned in {time.time() - t0:.3f} s; waiting for F ...")
    f.result(timeout=60)
    for p in (a, b, c, d, e, f):
        run = p.content
        print(f"  {p.name}: ran {run['start'] - t0:5.2f} s .. {run['end'] - t0:5.2f} s")
    print(f"total {time.time() - t0:.2f} s for six 0.5 s agents on a 4-step critical path")


if __name__ == "__main__":
    conversation()
    dataflow()
    agentnb.shutdown()

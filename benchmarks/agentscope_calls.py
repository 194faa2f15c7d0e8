"""The calls of bench_calls.py, made to an AgentScope 0.1.1 distributed agent.

    python benchmarks/agentscope_calls.py CALLS ROUNDS

Run with a Python that has agentscope 0.1.1 (benchmarks/setup_agentscope.sh);
prints one JSON line with the figures ray_calls.py prints. AgentScope has no
asyncio calls: "8 in flight" is 8 threads, each calling and reading in turn.
Its messages are JSON, so the payloads are text of the same length.
"""

import json
import random
import statistics
import string
import sys
import threading
import time

import agentscope
from agentscope.agents import AgentBase
from agentscope.message import Msg
from agentscope.server import RpcAgentServerLauncher


class Echo(AgentBase):
    def reply(self, x=None):
        return Msg(self.name, None if x is None else x.content, role="assistant")


def sequential(agent, content, calls, warmup):
    msg = Msg("user", content, role="user")
    for _ in range(warmup):
        _ = agent(msg).content  # reading it fetches the reply
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        _ = agent(msg).content  # reading it fetches the reply
        out.append(time.perf_counter() - start)
    return out


def threads(agent, calls, n):
    msg = Msg("user", "hello agents", role="user")
    barrier = threading.Barrier(n + 1)

    def worker():
        barrier.wait()
        for _ in range(calls // n):
            _ = agent(msg).content  # reading it fetches the reply

    workers = [threading.Thread(target=worker) for _ in range(n)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return (calls // n * n) / (time.perf_counter() - start)


def p99(samples):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main():
    calls, rounds = int(sys.argv[1]), int(sys.argv[2])
    agentscope.init(
        project="bench", save_dir="/tmp/agentscope-bench", save_log=False, save_code=False,
        save_api_invoke=False, use_monitor=False, logger_level="WARNING",
    )  # fmt: skip
    launcher = RpcAgentServerLauncher(
        host="localhost", port=None, custom_agent_classes=[Echo], local_mode=True
    )
    launcher.launch(in_subprocess=True)
    try:
        agent = Echo(name="seq").to_dist(host="localhost", port=launcher.port)
        seq = min(
            (sequential(agent, "hello agents", calls, 200) for _ in range(rounds)), key=statistics.median
        )
        out = {
            "seq_p50_ms": statistics.median(seq) * 1e3,
            "seq_p99_ms": p99(seq) * 1e3,
            "in_flight_per_s": max(threads(agent, calls, 8) for _ in range(rounds)),
        }
        for size, key in ((1 << 20, "1mib_ms"), (10 << 20, "10mib_ms")):
            text = "".join(random.choices(string.ascii_letters, k=size))
            n = 100 if size == 1 << 20 else 30
            out[key] = min(statistics.median(sequential(agent, text, n, 3)) for _ in range(rounds)) * 1e3
    finally:
        launcher.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

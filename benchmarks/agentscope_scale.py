"""The AgentScope 0.1.1 side of bench_scale.py: N agents on one launcher, created, then called once each.

Run with a Python that has agentscope 0.1.1 (benchmarks/setup_agentscope.sh);
prints one JSON line. Its logging is set to WARNING (its INFO line per agent
would slow it down).
"""

import json
import sys
import time

import agentscope
from agentscope.agents import AgentBase
from agentscope.message import Msg
from agentscope.server import RpcAgentServerLauncher


class Echo(AgentBase):
    def reply(self, x=None):
        return Msg(self.name, None if x is None else x.content, role="assistant")


def main() -> None:
    n = int(sys.argv[1])
    agentscope.init(
        project="bench", save_dir="/tmp/agentscope-bench", save_log=False, save_code=False,
        save_api_invoke=False, use_monitor=False, logger_level="WARNING",
    )  # fmt: skip
    launcher = RpcAgentServerLauncher(
        host="localhost", port=None, custom_agent_classes=[Echo], local_mode=True,
        max_pool_size=max(8192, 2 * n),
    )  # fmt: skip
    launcher.launch(in_subprocess=True)
    try:
        start = time.perf_counter()
        agents = [Echo(name=f"a{i}").to_dist(host="localhost", port=launcher.port) for i in range(n)]
        created = time.perf_counter()
        replies = [a(Msg("user", i, role="user")) for i, a in enumerate(agents)]
        ok = sum(1 for i, p in enumerate(replies) if p.content == i)
        called = time.perf_counter()
    finally:
        launcher.shutdown()
    print(json.dumps({"create_s": created - start, "call_s": called - created, "ok": ok}))


if __name__ == "__main__":
    main()

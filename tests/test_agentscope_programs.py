"""AgentScope 0.1.x's distributed examples, in AgentScope's own idioms, run offline.

Only the imports differ from AgentScope's tutorial and examples; the agents
are rule-based stand-ins (tests/agentscope_agents.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from agentscope_agents import DebaterAgent, DialogAgent, UserAgent, WebAgent

from agentnb import Msg, msghub

HERE = os.path.dirname(os.path.abspath(__file__))


def test_the_tutorial_five_web_agents_with_to_dist_true_and_reply() -> None:
    query = "what is an actor?"
    urls = [f"https://example.org/page_{i}" for i in range(5)]
    # AgentScope's tutorial: to_dist=True keeps the constructor from running twice
    agents = [WebAgent(name=f"W{i}", to_dist=True) for i in range(len(urls))]
    start = time.monotonic()
    results = []
    for i, url in enumerate(urls):
        results.append(
            agents[i].reply(Msg(name="system", role="system", content={"url": url, "query": query}))
        )
    answers = [result.content for result in results]
    elapsed = time.monotonic() - start
    assert [a.split(" says ")[0] for a in answers] == urls
    assert len({a.split("(")[1].split(",")[0] for a in answers}) == 5  # five server processes
    assert elapsed < 5 * 0.3  # they worked at the same time, not one after the other
    assert agents[0].constructed_in != os.getpid()  # the constructor ran on the server only


ASSISTANT_LAUNCHER = """
from agentnb import RpcAgentServerLauncher
from agentscope_agents import DialogAgent
server = RpcAgentServerLauncher(
    agent_class=DialogAgent,
    agent_kwargs={"name": "Assistant", "sys_prompt": "You are a helpful assistant."},
    host="127.0.0.1",
    port=0,
)
server.launch()
server.wait_until_terminate()
"""


def test_the_distributed_conversation_with_the_assistant_on_a_launcher(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AGENTNB_RUNTIME_DIR", str(tmp_path))
    env = dict(os.environ, PYTHONPATH=HERE)
    launcher = subprocess.Popen(
        [sys.executable, "-c", ASSISTANT_LAUNCHER], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert launcher.stderr is not None
        address = launcher.stderr.readline().split("listening on ")[1].split()[0]
        host, port = address.rsplit(":", 1)
        # AgentScope's distributed conversation, "assistant" side
        assistant_agent = DialogAgent(
            name="Assistant", sys_prompt="You are a helpful assistant.", model_config_name="offline"
        ).to_dist(host=host, port=int(port), launch_server=False)
        user_agent = UserAgent(name="User", require_url=False)
        x = None
        transcript = []
        while x is None or x.content != "exit":
            x = assistant_agent(x)
            transcript.append(x.content)
            x = user_agent(x)
            transcript.append(x.content)
        assert transcript == [
            "hello", "hi", "you said 'hi' (turn 2)", "how are you", "you said 'how are you' (turn 4)", "exit",
        ]  # fmt: skip
        assert len(assistant_agent.memory) == 5  # the assistant's memory, read where it lives
    finally:
        launcher.terminate()
        launcher.wait(10)


def test_the_distributed_debate_with_a_msghub() -> None:
    pro_agent = DebaterAgent(name="Pro", sys_prompt="Argue for.", to_dist=True)
    con_agent = DebaterAgent(name="Con", sys_prompt="Argue against.", to_dist=True)
    judge_agent = DebaterAgent(name="Judge", sys_prompt="Decide.", to_dist=True)
    hint = Msg(name="Moderator", role="system", content="Topic: actors are the right model for agents.")
    x = None
    with msghub(participants=[pro_agent, con_agent, judge_agent], announcement=hint):
        for _ in range(2):
            pro_resp = pro_agent(x)
            con_resp = con_agent(pro_resp)
            x = judge_agent(con_resp)
    # the judge heard the moderator and every turn of both, in order, through the hub
    assert x.content == ("Judge answers after hearing Moderator, Pro, Con, Con, Pro, Con, Con")

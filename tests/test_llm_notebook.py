"""The LLM notebook, recorded against a fake OpenAI-compatible server, then replayed offline.

The notebook is copied to a temp folder with no recording; a kernel whose
environment names the fake endpoint runs it in ``record`` mode; a second
kernel with no endpoint at all replays it and must print the same results.
"""

from __future__ import annotations

import json
import shutil

import pytest
from fake_openai import MODEL, FakeOpenAI
from notebook_runs import NOTEBOOKS, execute_twice

NOTEBOOK = NOTEBOOKS / "07-llm-agents.ipynb"


@pytest.mark.timeout(240)
def test_a_run_recorded_against_a_fake_endpoint_replays_offline_with_the_same_output(tmp_path) -> None:
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    with FakeOpenAI(api_key="k") as fake:
        env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "k", "OPENAI_MODEL": MODEL,
               "AGENTNB_CHAT_MODE": "record"}  # fmt: skip
        recorded = execute_twice(copy, env)
        asked = len(fake.requests)
    recording = json.loads((tmp_path / "recordings" / "debate.json").read_text())
    entries = sum(len(replies) for replies in recording["agents"].values())
    assert recording["model"] == MODEL and asked == 2 * entries  # each run asked once per entry
    offline = {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": "", "OPENAI_MODEL": "", "AGENTNB_CHAT_MODE": ""}
    replayed = execute_twice(copy, offline)
    assert replayed.runs[0].results == recorded.runs[0].results
    assert replayed.runs[1].results == recorded.runs[0].results
    assert not recorded.leftovers and not replayed.leftovers

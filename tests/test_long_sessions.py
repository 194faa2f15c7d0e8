"""Sessions last hours: an idle session keeps its live channel (run in the background, checked last).

The idle driver is started when the suite is collected (see conftest.py) and
runs beside the other tests, so its 90 seconds of idling cost the suite no
time; this test, ordered last, collects what it printed.
"""

from __future__ import annotations

import json
import subprocess

import pytest

IDLE_S = 90.0

pytestmark = pytest.mark.timeout(IDLE_S + 240)


def test_a_session_idle_for_90s_keeps_its_live_channel(idle_session: subprocess.Popen[str]) -> None:
    out, err = idle_session.communicate(timeout=IDLE_S + 200)
    assert idle_session.returncode == 0, err
    findings = json.loads(out.strip().splitlines()[-1])
    assert findings == {"unread_done": True, "unread_state": "done", "after": 2}
    assert "[S] step 2" in out  # a reply's print reached the driver after the pause
    for noise in ("GOAWAY", "too_many_pings", "chttp2", "ENHANCE_YOUR_CALM", "lost the connection"):
        assert noise not in out + err, (noise, err)

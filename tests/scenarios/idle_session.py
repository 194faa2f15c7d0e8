"""A driver that idles for a while with the real default settings, then uses its live channel.

Run by tests/test_long_sessions.py in the background while the rest of the
suite runs: ``python idle_session.py SECONDS``. Prints one JSON line of
findings at the end; everything it printed (and gRPC would have printed) is
checked by the test.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from agents import Gate, Stepper

import agentnb
from agentnb import Msg


def main() -> None:
    idle = float(sys.argv[1])
    gate = sys.argv[2]
    s = Stepper(name="S").to_dist()
    assert s(Msg("user", "before")).content == 1
    g = Gate(name="G", path=gate).to_dist()
    unread = g(Msg("user", "after the pause"))  # never read: it must still turn done
    print("idling", flush=True)
    time.sleep(idle)  # the session under test: no calls, no reads, for this long
    open(gate, "w").close()  # now G's reply can finish
    finished = threading.Event()
    unread.call.when_done(finished.set)
    turned_done = finished.wait(60)
    after = s(Msg("user", "after")).content  # its reply prints "step 2"
    print(json.dumps({"unread_done": turned_done, "unread_state": unread.state, "after": after}), flush=True)
    agentnb.shutdown()


if __name__ == "__main__":
    main()

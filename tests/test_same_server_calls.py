"""An agent calling an agent of its own server does it in-process, in mailbox order, traced."""

from __future__ import annotations

import threading

from agents import Asker, Tally

from agentnb import Msg
from agentnb._core._events import Event
from agentnb._runtime._session import get_session


def test_an_agent_calls_another_on_its_server_in_process_in_order_and_the_feed_shows_it() -> None:
    seen: list[Event] = []
    done = threading.Event()

    def listen(event: Event) -> None:
        if event.agent == "T":
            seen.append(event)
            if event.kind == "done" and len([e for e in seen if e.kind == "done"]) == 50:
                done.set()

    unsubscribe = get_session().subscribe(listen)
    try:
        tally = Tally(name="T").to_dist()
        port = int(tally.address.rsplit(":", 1)[1])
        asker = Asker(name="A", other=tally, times=50).to_dist(port=port)
        answer = asker(Msg("user", "go")).result(timeout=60).content
        assert done.wait(30), "the feed did not show the 50 calls of A to T"
    finally:
        unsubscribe()
    assert answer["local"] is True
    assert answer["answers"] == [[i + 1, i] for i in range(50)]  # in the order they were made
    queued = [e for e in seen if e.kind == "queued"]
    assert len(queued) == 50 and {e.caller for e in queued} == {"A"}


def test_an_agent_on_another_server_is_still_called_over_grpc() -> None:
    tally = Tally(name="T2").to_dist()
    asker = Asker(name="A2", other=tally, times=3).to_dist()  # a server of its own
    answer = asker(Msg("user", "go")).result(timeout=60).content
    assert answer == {"answers": [[1, 0], [2, 1], [3, 2]], "local": False}

"""Call lifecycle events, as plain Python (the graph and the notebook layer read these)."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("queued", "running", "done", "error", "output", "streaming", "input")
#: Not a server's event: the driver's word that a server's feed ended for good (the server
#: stopped): calls there that did not finish never will (the graph marks them failed).
GONE = "gone"


@dataclass(frozen=True)
class InputRef:
    """A placeholder consumed by a call: the producing server, task and agent.

    A call sent before its input's call was acknowledged names that call by its
    key (``call_key``): the driver fills in ``task_id`` when it knows it, else it
    is "" and the producer's "queued" event carries the same ``call_key``.
    """

    address: str
    task_id: str
    agent: str
    call_key: str = ""


@dataclass(frozen=True)
class Event:
    """One event from a server's feed.

    Attributes:
        kind: one of "queued", "running", "done", "error", "output", "streaming"
            (a reply streams its pieces), "input" (a reply waits for an answer); or
            "gone" (from the driver, not a server: that server's feed ended for good).
        task_id: the call's task id.
        agent: the agent that runs the call.
        address: ``host:port`` of that agent's server.
        caller: who made the call ("driver", or the calling agent's name).
        inputs: the placeholders the call consumed.
        timestamp: server time (``time.time()``).
        preview: short preview of the call's direct input ("queued", when it
            has no placeholder inputs), the reply ("done"), the error ("error"),
            the end of the text streamed so far ("streaming"), or what waits
            for an answer ("input": "input", "breakpoint" or "post-mortem").
        text: printed output ("output" events); what to show, then the prompt ("input").
        seq: the server's sequence number of this event.
        message_id: the reply's ``Msg.id`` ("done" events); the call's key, if its
            caller gave one ("streaming", "input": a caller reading the reply at once
            learns its task id only with the reply).
        direct_inputs: how many inputs came as messages from the caller rather
            than as placeholders ("queued" events).
        chunk: the number of this piece of output within its task ("output"
            events; the same number comes with the call's outcome, so each
            piece is shown once); the pieces streamed so far ("streaming");
            the prompt's number within its task ("input").
        call_key: the key its caller gave the call ("queued" events): a consumer's
            input may name the call by it (``InputRef.call_key``).
    """

    kind: str
    task_id: str
    agent: str
    address: str
    caller: str = ""
    inputs: tuple[InputRef, ...] = ()
    timestamp: float = 0.0
    preview: str = ""
    text: str = ""
    seq: int = 0
    message_id: str = ""
    direct_inputs: int = 0
    chunk: int = 0
    call_key: str = ""

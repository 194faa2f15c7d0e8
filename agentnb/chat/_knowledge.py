"""What the rule-based chat model knows: the workshop's topics, and the arguments of a debate.

Plain data for :mod:`agentnb.chat._rules`. A topic has the words that name
it, explanations (a teacher's answer), a caveat (a sceptic's doubt) and
follow-up questions, each leading to the topic it asks about, so a curious
agent's questions and a teacher's answers make a conversation that moves on.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Question:
    """A follow-up question, and the topic it asks about."""

    text: str
    topic: str


@dataclass(frozen=True)
class Topic:
    name: str
    words: tuple[str, ...]
    explain: tuple[str, ...]
    caveat: str
    asks: tuple[Question, ...] = field(default_factory=tuple)


TOPICS = (
    Topic(
        "actor",
        ("actor", "actors", "what is an agent", "agent is"),
        (
            "An actor is an independent part of a program that keeps its own state, talks to other "
            "actors only by sending messages, and handles one message at a time.",
            "Think of an actor as a person at a desk with an inbox: it takes one message, does its "
            "work, perhaps sends messages on, and then takes the next one.",
        ),
        "calling everything an actor does not make a program fast by itself: an actor that waits "
        "for another one's reply still holds up whoever waits for it.",
        (
            Question(
                "If an actor handles only one message at a time, how can a program of actors do "
                "several things at once?",
                "parallel",
            ),
            Question("What happens to the messages that arrive while an actor is busy?", "mailbox"),
        ),
    ),
    Topic(
        "parallel",
        ("parallel", "at once", "same time", "concurrent", "simultaneous", "several things"),
        (
            "Agents whose inputs are ready run in parallel by themselves: each one handles its own "
            "messages one at a time, but different agents work at the same time, with no threads in "
            "your code.",
            "The parallelism comes from having many actors, not from one actor doing two things: "
            "while one works on its message, the others work on theirs.",
        ),
        "parallel only helps where the work is independent: when each agent needs the previous "
        "one's reply, they still run one after the other.",
        (
            Question(
                "But if agents work at the same time, how do they share results without getting in "
                "each other's way?",
                "message",
            ),
            Question(
                "How does an agent wait for another agent's reply without blocking everything?", "placeholder"
            ),
        ),
    ),
    Topic(
        "message",
        ("message", "messages", "share", "sharing", "each other's way", "shared memory"),
        (
            "They never share memory: an agent only sees what arrives in a message, so no two agents "
            "can change the same data at the same time.",
            "Everything that passes between agents is a message with a sender and a content, which is "
            "also why an agent can be moved to another process without changing the code that calls it.",
        ),
        "copying everything into messages has a price: a big piece of data travels much more slowly "
        "than a shared variable would.",
        (
            Question(
                "If agents only exchange messages, can they live in different processes, or even on "
                "different machines?",
                "process",
            ),
            Question("What does an agent do with the messages it has already received?", "memory"),
        ),
    ),
    Topic(
        "placeholder",
        ("placeholder", "placeholders", "wait for", "waits", "blocking", "future", "at once with"),
        (
            "A call to a distributed agent returns a placeholder at once: a message whose content is "
            "filled in when the reply arrives, so the caller goes on and only waits when it reads it.",
            "Passing a placeholder to another agent sends a reference, and that agent's server fetches "
            "the value itself when it is ready, so the waiting happens only where the value is needed.",
        ),
        "a placeholder only postpones the wait: read it too early and you are back to one call at a time.",
        (
            Question("So when I pass a placeholder on, who actually waits for the value?", "placeholder"),
            Question("How can I see which agent made a whole run slow?", "graph"),
        ),
    ),
    Topic(
        "process",
        ("process", "processes", "server", "servers", "machine", "machines", "distributed", "network"),
        (
            "Because agents only talk through messages, an agent can live in a server process of its "
            "own, or on another machine, and still be called exactly as if it were local.",
            "A server process hosts one agent or thousands; on another machine a launcher starts the "
            "server, and the notebook reaches it over the network with a token.",
        ),
        "every process costs memory and every trip over the network costs time, so spreading agents "
        "out is never free.",
        (
            Question("What happens if one of those machines crashes in the middle of a call?", "failure"),
            Question("How many agents can one server process hold?", "scale"),
        ),
    ),
    Topic(
        "failure",
        ("crash", "crashes", "fail", "fails", "failure", "dies", "goes down", "error"),
        (
            "The calls waiting on a server that died fail with an error naming the agent and the "
            "server, instead of hanging, and the agents elsewhere keep working.",
            "A failure stays local: one agent's error travels to whoever reads its reply, and the rest "
            "of the program can decide what to do about it.",
        ),
        "an error tells you something broke, but whatever that agent had in memory is gone unless "
        "you kept it somewhere else.",
        (Question("Can the other agents keep going when one of them fails?", "failure"),),
    ),
    Topic(
        "memory",
        ("memory", "remember", "history", "already received", "state"),
        (
            "It keeps them in its memory: an agent's messages are its state, so its next reply can use "
            "the whole conversation so far.",
            "Observing a message adds it to memory without asking for a reply, which is how agents "
            "listen in on a conversation.",
        ),
        "memory that lives in one process is lost with that process, so what matters has to be "
        "saved or sent on.",
        (Question("Does an agent forget everything when its process restarts?", "failure"),),
    ),
    Topic(
        "graph",
        ("graph", "slow", "critical path", "bottleneck", "faster", "time went"),
        (
            "The dataflow graph shows who sent what to whom, and its critical path is the chain of "
            "calls that set the total time: speeding up anything else does not help.",
        ),
        "a graph of one run can mislead: the next run may be slow somewhere else.",
        (Question("Would making an agent off the critical path faster help at all?", "graph"),),
    ),
    Topic(
        "scale",
        ("how many", "thousands", "hundreds", "scale", "many agents"),
        (
            "One server process can hold thousands of agents, since an agent is a small object with a "
            "mailbox; it is the processes that cost memory, tens of megabytes each.",
        ),
        "thousands of agents in one process still share its cores, so they wait for each other when "
        "there is real work to do.",
        (Question("Then when is it worth starting a second server?", "process"),),
    ),
    Topic(
        "mailbox",
        ("mailbox", "inbox", "busy", "queue", "in order", "arrive"),
        (
            "They wait in its mailbox and are handled in the order they came, one at a time, so the "
            "actor never has to guard its state against itself.",
        ),
        "a queue is only fair while each message is quick: one slow message holds up all those behind it.",
        (Question("Then what if one message takes a very long time?", "placeholder"),),
    ),
)

BY_NAME = {t.name: t for t in TOPICS}


@dataclass(frozen=True)
class Point:
    """A debate argument and the other side's answer to it.

    Attributes:
        key: a short name.
        gist: the point as a clause ("that ...").
        text: how its side makes it.
        answer: how the other side answers it (``{other}``: the name of who made the point).
        remedy: what the answer offers, as a noun phrase (a judge weighs it).
        score: how well the answer meets the point (a concrete fix scores more than a matter of taste).
    """

    key: str
    gist: str
    text: str
    answer: str
    remedy: str
    score: int


@dataclass(frozen=True)
class Motion:
    """A motion the rule model can debate: the words that name it, and points for and against."""

    words: tuple[str, ...]
    pro: tuple[Point, ...]
    con: tuple[Point, ...]


BINDER = Motion(
    ("binder",),
    (
        Point(
            "setup",
            "that a class on Binder installs nothing",
            "A class on Binder installs nothing: everyone opens the notebooks in a browser and spends "
            "the first ten minutes on agents instead of on Python versions.",
            "Installing nothing, as {other} says, is pleasant for one afternoon, but then the class goes "
            "home with nothing that runs on their own machines.",
            "the worry that nothing runs at home afterwards",
            1,
        ),
        Point(
            "same",
            "that everyone gets the same environment",
            "Everyone gets the same environment, so a problem on one laptop cannot stall the room, and "
            "what the teacher shows is exactly what the students get.",
            "The same environment {other} wants is just as easy with one setup script, and that one "
            "stays after the workshop ends.",
            "a setup script that gives everyone the same environment",
            2,
        ),
        Point(
            "tested",
            "that Binder keeps the notebooks small and tested",
            "Notebooks that must run on Binder stay small and are run top to bottom in CI, so they "
            "still work at the next workshop.",
            "CI can run the notebooks without Binder, as {other} surely knows, and keeping them small "
            "for Binder's sake limits what we can teach.",
            "CI without Binder",
            2,
        ),
    ),
    (
        Point(
            "memory",
            "that Binder's memory limit is too small",
            "Binder gives each user one or two gigabytes and stops idle sessions, so larger examples "
            "and long exercises do not fit.",
            "The memory limit {other} mentions is real, but the series is built for it: agents share a "
            "few server processes, so a hundred players fit in a few hundred megabytes.",
            "a concrete fix, agents sharing a few server processes",
            3,
        ),
        Point(
            "outage",
            "that a free public service may fail on the day",
            "A free public service can be slow or down on the day of the workshop, and then the whole "
            "class waits with nothing to run.",
            "If Binder is down, as {other} fears, the same notebooks run locally with one setup "
            "command: Binder is the default, not the only way.",
            "a fallback, the same notebooks run locally",
            3,
        ),
        Point(
            "learning",
            "that students should learn to install the tools",
            "Students should also learn to install and run the tools on their own machines, and Binder "
            "hides exactly that.",
            "Installing, which {other} rightly values, can be the last exercise of the day; the first "
            "hours should go to the ideas.",
            "a change of order, installing at the end of the day",
            2,
        ),
    ),
)

MOTIONS = (BINDER,)

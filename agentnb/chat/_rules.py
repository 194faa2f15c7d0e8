"""The rule-based chat model's dialogue: replies that read as an exchange about what was asked.

Offline, instant and deterministic: the same conversation gives the same
reply (``seed`` picks among phrasings). The system prompt says who the agent
is (a teacher, a curious student, a sceptic, a debater for or against a
motion, a judge, someone undecided, or simply friendly) and the conversation
says what to answer:

* a question about one of the workshop's topics (actors, messages, parallel
  agents, placeholders, processes, failures, memory, the graph) gets that
  topic's explanation; a curious agent asks the follow-up question that leads
  on; a sceptic answers and adds its doubt;
* a debater opens with a point of its side of the motion, then answers its
  opponent's point; a judge weighs the answers and names the side that
  argued better; someone undecided weighs both;
* "what did you hear?" is answered from memory; a greeting with one.

It knows only what :mod:`agentnb.chat._knowledge` holds, and says so when
asked about anything else. It stands in for a language model in workshops
and tests; it is not one.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from ._knowledge import BY_NAME, MOTIONS, TOPICS, Motion, Point, Question, Topic

ChatMessage = dict[str, str]

_SPEAKER = re.compile(r"^([A-Za-z][\w.-]{0,30}): (.*)$", re.S)
_NUMBER = re.compile(r"-?\d+")
_ACKS = ("I see.", "That makes sense.", "Interesting.", "Fair point.")
_OPENERS = ("", "Good question. ", "Let me explain. ")
_DOUBTS = (
    "Still, I am not convinced it is that simple.",
    "Maybe, but there is a catch.",
    "I have my doubts, though.",
)


@dataclass(frozen=True)
class Turn:
    speaker: str  # "" for the agent itself
    text: str


def persona(system: str) -> str:
    """Who the system prompt says the agent is."""
    s = system.lower()
    checks = (
        ("con", ("against",)),
        ("pro", ("argue for", "for the motion", "in favour", "in favor")),
        ("judge", ("judge",)),
        ("undecided", ("undecided",)),
        ("teacher", ("teach", "expert", "explain")),
        ("student", ("student", "curious", "ask ")),
        ("sceptic", ("sceptic", "skeptic", "doubt")),
    )
    return next((name for name, words in checks if any(w in s for w in words)), "friendly")


def conversation(messages: list[ChatMessage]) -> list[Turn]:
    """The non-system messages as turns: others' as "Name: text" user turns, its own as assistant turns."""
    turns = []
    for m in messages:
        role, text = m.get("role"), str(m.get("content", ""))
        if role == "system":
            continue
        if role == "assistant":
            turns.append(Turn("", text))
            continue
        match = _SPEAKER.match(text)
        turns.append(Turn(match.group(1), match.group(2)) if match else Turn("user", text))
    return turns


def reply(messages: list[ChatMessage], seed: int = 0) -> str:
    """The rule model's reply to a conversation (see the module doc)."""
    system = next((str(m.get("content", "")) for m in messages if m.get("role") == "system"), "")
    turns = conversation(messages)
    if not turns:
        return "Hello! What shall we talk about: actors, messages, or agents that run in parallel?"
    who = persona(system)
    digest = hashlib.sha256(f"{seed}|{system}|{turns[-1].text}".encode()).digest()
    rng = random.Random(digest)
    last = turns[-1]
    lower = last.text.lower()
    motion = _motion(turns) or _debated(turns)
    if who in ("pro", "con") and motion is not None:
        return _debate(who, motion, turns, seed)
    if motion is not None and (who == "judge" or "who won" in lower):
        return _verdict(motion, turns)
    if who == "undecided" and motion is not None:
        return _weigh(motion, turns)
    if any(w in lower for w in ("what did you hear", "what have you heard", "what was said")):
        return _recall(turns[:-1])
    topic = (_asked_topic(turns) or _topic(last.text)) if who == "student" else _topic(last.text)
    if topic is None:
        return _no_topic(last, rng)
    if who == "student":
        return _follow_up(topic, turns, rng)
    if who == "sceptic":
        caveat = topic.caveat[0].upper() + topic.caveat[1:]
        return f"{_explain(topic, turns)} {_fresh(_DOUBTS, turns, rng, anywhere=True)} {caveat}"
    if lower.startswith(("shall we", "should we", "can we", "let's")):
        return f"Yes, let's. {_explain(topic, turns)} {_question(topic, turns).text}"
    return _fresh(_OPENERS, turns, rng) + _explain(topic, turns)


# -- topics ---------------------------------------------------------------------


def _asks(text: str) -> bool:
    return text.rstrip().endswith("?")


def _topic(text: str) -> Topic | None:
    """The topic a text is about: a known follow-up question's, else the one its words name most."""
    low = text.lower()
    for topic in TOPICS:
        for q in topic.asks:
            if q.text.lower() in low:
                return BY_NAME[q.topic]
    scores = [(sum(low.count(w) for w in t.words), -i, t) for i, t in enumerate(TOPICS)]
    best = max(scores, key=lambda s: (s[0], s[1]))
    return best[2] if best[0] else None


def _said(turns: list[Turn]) -> str:
    return "\n".join(t.text for t in turns)


def _explain(topic: Topic, turns: list[Turn]) -> str:
    """The first explanation of the topic not given in this conversation yet."""
    said = _said(turns)
    return next((e for e in topic.explain if e not in said), topic.explain[-1])


def _asked_topic(turns: list[Turn]) -> Topic | None:
    """The topic of the latest known follow-up question in the conversation (what was just answered)."""
    for t in reversed(turns):
        low = t.text.lower()
        for topic in TOPICS:
            for q in topic.asks:
                if q.text.lower() in low:
                    return BY_NAME[q.topic]
    return None


def _question(topic: Topic, turns: list[Turn]) -> Question:
    """The topic's first follow-up question not asked in this conversation yet."""
    said = _said(turns)
    return next((q for q in topic.asks if q.text not in said), topic.asks[0])


def _follow_up(topic: Topic, turns: list[Turn], rng: random.Random) -> str:
    """A curious agent's turn: a short acknowledgement and the question that leads on."""
    question = _question(topic, turns).text
    if _asks(turns[-1].text) and turns[-1].speaker:  # it was asked something: answer, then ask
        opening = "Yes, let's." if turns[-1].text.lower().startswith(("shall we", "should we")) else ""
        return " ".join(p for p in (opening, _explain(topic, turns), question) if p)
    return f"{_fresh(_ACKS, turns, rng)} {question}"


def _recall(turns: list[Turn]) -> str:
    """What the agent heard, by speaker."""
    heard = [t for t in turns if t.speaker and t.speaker != "user" and not _asks(t.text)]
    if not heard:
        return "I have not heard anything yet, apart from your question."
    parts = [f"{t.speaker} say that {_clause(t.text)}" for t in heard[-3:]]
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f", and {parts[-1]}"
    return f"I heard {joined}."


def _clause(text: str) -> str:
    text = text.strip().rstrip(".!")
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def _no_topic(last: Turn, rng: random.Random) -> str:
    low = last.text.lower()
    if re.match(r"^(hello|hi|hey|good (morning|afternoon|evening))\b", low):
        return "Hello! What shall we talk about: actors, messages, or agents that run in parallel?"
    numbers = _NUMBER.findall(last.text)
    if numbers and not _asks(last.text):
        n = int(numbers[-1])
        return f"You said {n}; I say {n + 1}."
    if _asks(last.text):
        return (
            "I can only speak about what this workshop covers: actors and messages, agents that run in "
            "parallel, placeholders, processes and machines, failures, memory and the dataflow graph. "
            "Which of them do you mean?"
        )
    return f"{rng.choice(_ACKS)} Which part of it would you like to talk about?"


def _fresh(phrases: tuple[str, ...], turns: list[Turn], rng: random.Random, anywhere: bool = False) -> str:
    """One of ``phrases`` this agent has not used yet (to begin a turn, or ``anywhere`` in one)."""
    mine = [t.text for t in turns if not t.speaker]

    def used(phrase: str) -> bool:
        return bool(phrase) and any((phrase in m) if anywhere else m.startswith(phrase) for m in mine)

    return rng.choice([p for p in phrases if not used(p)] or list(phrases))


# -- debates --------------------------------------------------------------------


@dataclass(frozen=True)
class _Side:
    name: str  # who spoke
    side: str  # "pro" or "con"
    points: tuple[Point, ...]  # the points of its side it made
    answered: tuple[Point, ...]  # the other side's points it answered


def _motion(turns: list[Turn]) -> str | None:
    for t in reversed(turns):
        if t.text.lower().startswith("motion:"):
            clause = t.text.split(":", 1)[1].strip()
            return re.split(r"(?<=\.)\s", clause, maxsplit=1)[0].rstrip(".")
    return None


def _debated(turns: list[Turn]) -> str | None:
    """The motion a known debate's speeches argue, when nobody said it (a listener who came late)."""
    said = _said(turns)
    for motion in MOTIONS:
        if any(p.text in said or _answers(p, said) for p in (*motion.pro, *motion.con)):
            return motion.words[0]
    return None


def _known(motion: str) -> Motion | None:
    low = motion.lower()
    return next((m for m in MOTIONS if any(w in low for w in m.words)), None)


def _sides(motion: Motion, turns: list[Turn]) -> list[_Side]:
    """Who argued which side, with what, from what the agent heard (itself excluded)."""
    found: dict[str, tuple[str, list[Point], list[Point]]] = {}
    for t in turns:
        if not t.speaker or t.speaker in ("Moderator", "user"):
            continue
        for side, own, other in (("pro", motion.pro, motion.con), ("con", motion.con, motion.pro)):
            made = [p for p in own if p.text in t.text]
            answered = [p for p in other if _answers(p, t.text)]
            if made or answered:
                entry = found.setdefault(t.speaker, (side, [], []))
                entry[1].extend(made)
                entry[2].extend(answered)
    return [_Side(name, side, tuple(made), tuple(ans)) for name, (side, made, ans) in found.items()]


def _answer(point: Point, other: str) -> str:
    return point.answer.format(other=other)


def _answers(point: Point, text: str) -> bool:
    """Whether ``text`` holds the answer to ``point`` (whoever it was addressed to)."""
    before, _, after = point.answer.partition("{other}")
    return before in text and after in text


def _debate(side: str, motion_text: str, turns: list[Turn], seed: int) -> str:
    """A debater's turn: an opening point, then an answer to the opponent's latest point."""
    motion = _known(motion_text)
    mine = [t.text for t in turns if not t.speaker]
    if motion is None:
        return _general_debate(side, motion_text, bool(mine))
    own, other = (motion.pro, motion.con) if side == "pro" else (motion.con, motion.pro)
    opponents = [t for t in turns if t.speaker and t.speaker not in ("Moderator", "user")]
    for t in reversed(opponents):
        point = next((p for p in other if p.text in t.text), None)
        if point is not None and not any(_answers(point, m) for m in mine):
            return _answer(point, t.speaker)
    unused = [p for p in own if not any(p.text in m for m in mine)] or list(own)
    return unused[seed % len(unused)].text


def _general_debate(side: str, motion: str, spoke: bool) -> str:
    if side == "pro":
        if not spoke:
            return (
                f"I support the motion that {_clause(motion)}: the cost is paid once, and the benefit "
                "comes back every time."
            )
        return "My opponent counts the cost but not what it saves; over a year the savings win."
    if not spoke:
        return (
            f"I oppose the motion that {_clause(motion)}: it sounds right, but it costs more than it "
            "looks, and the cost falls on the people with the least time."
        )
    return "My opponent promises savings later for a cost paid now; I would want to see them measured first."


def _verdict(motion_text: str, turns: list[Turn]) -> str:
    """A judge's verdict: the side whose answer met the other's point better."""
    motion = _known(motion_text)
    sides = _sides(motion, turns) if motion is not None else []
    pro = next((s for s in sides if s.side == "pro"), None)
    con = next((s for s in sides if s.side == "con"), None)
    if pro is None or con is None:
        return (
            "Neither side gave me more than general claims, so the motion is not carried: whoever "
            "proposes a change has to show it works."
        )

    def score(s: _Side) -> tuple[int, int]:
        return sum(p.score for p in s.answered), len(s.points)

    winner, loser = (pro, con) if score(pro) > score(con) else (con, pro)
    won = winner.answered[0] if winner.answered else None
    lost = loser.answered[0] if loser.answered else None
    if won is None:
        return f"{winner.name} argued better: {loser.name} never answered its point {winner.points[0].gist}."
    because = f"it met {loser.name}'s point {won.gist} with {won.remedy}"
    if lost is not None:
        because += f", while {loser.name} answered the point {lost.gist} only with {lost.remedy}"
    carried = "The motion is carried." if winner.side == "pro" else "The motion is not carried."
    return f"{winner.name} argued better: {because}. {carried}"


def _weigh(motion_text: str, turns: list[Turn]) -> str:
    """An undecided listener: both sides' best points, and what would decide it."""
    motion = _known(motion_text)
    sides = _sides(motion, turns) if motion is not None else []
    pro = next((s for s in sides if s.side == "pro"), None)
    con = next((s for s in sides if s.side == "con"), None)
    if pro is None or con is None:
        return (
            "Both sides sound reasonable, and neither has convinced me yet: I would like to see an example."
        )

    def stand(side: _Side) -> str:
        if side.points:
            return f"{side.name} {side.points[0].gist}"
        return f"{side.name} with {side.answered[0].remedy}"

    return (
        f"Both have a point: {stand(pro)}, and {stand(con)}. "
        "I would decide after trying the largest example of the day on Binder itself."
    )

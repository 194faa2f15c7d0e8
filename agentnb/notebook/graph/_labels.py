"""Readable text for the graph's labels, from the previews that events carry.

An event's preview is the message content made one line long: a string as it
is, anything else as its ``repr()``, cut at 60 characters with "…". On an edge
that is unreadable for structured content (``{'start': 1796159826.23…``), so
a label says what the content *is* instead:

* text, numbers, True/False/None: as they are (``hello``, ``42``);
* a dict: its top-level keys, ``{start, end, pid, …}``;
* a list or tuple: how many items, ``[3 items]`` (``[2+ items]`` when the
  preview was cut before its end).

The full preview stays in the hover text. A grouped edge carrying several
messages adds how many: ``hello · 3 msgs`` (the legend explains it).
"""

from __future__ import annotations

_OPEN = {"{": "}", "[": "]", "(": ")"}
_CUT = "…"


def _top_level(preview: str) -> tuple[list[str], bool]:
    """Scan a repr of a dict/list/tuple: its top-level parts, and whether it is complete.

    When the preview was cut short, the last part is the incomplete text after the last comma.
    """
    depth, quote, escaped = 0, "", False
    parts: list[str] = []
    current: list[str] = []
    for ch in preview:
        if quote:
            current.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in _OPEN:
            depth += 1
            if depth == 1:
                continue
        elif ch in _OPEN.values():
            depth -= 1
            if depth == 0:
                if "".join(current).strip():
                    parts.append("".join(current).strip())
                return parts, True
        elif ch == "," and depth == 1:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    rest = "".join(current).strip().removesuffix(_CUT).strip()
    return parts + ([rest] if rest else []), False


def _key(part: str) -> str:
    """The key of a ``'key': value`` part of a dict's repr (unquoted)."""
    key = part.split(":", 1)[0].strip() if ":" in part else part.strip()
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        key = key[1:-1]
    return key


def summarise(preview: str, limit: int = 24) -> str:
    """A short, readable label for a message preview (see the module doc).

    Args:
        preview: the event's preview of the content.
        limit: at most this many characters.

    Returns:
        The label ("" for no content).
    """
    text = preview.strip()
    if not text:
        return ""
    if text[0] == "{" and (text.endswith("}") or text.endswith(_CUT)):
        parts, complete = _top_level(text)
        if not complete and parts and ":" not in parts[-1]:
            parts.pop()  # cut inside a key
        keys = [_key(p) for p in parts]
        if complete and not keys:
            return "{}"
        shown: list[str] = []
        for key in keys:
            if len(", ".join([*shown, key])) + 4 > limit:
                break
            shown.append(key)
        more = len(shown) < len(keys) or not complete
        return "{" + ", ".join(shown) + (", …" if more and shown else "…" if more else "") + "}"
    if text[0] in "[(" and (text.endswith(_OPEN[text[0]]) or text.endswith(_CUT)):
        parts, complete = _top_level(text)
        count, close = len(parts), _OPEN[text[0]]
        if complete:
            return f"{text[0]}{count} item{'s' if count != 1 else ''}{close}"
        return f"{text[0]}{max(count, 1)}+ items{close}"
    return short(text, limit)


def short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with "…" when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + _CUT


def count_note(count: int) -> str:
    """How a label says how many messages an edge carries ("" for one)."""
    return f"{count} msgs" if count > 1 else ""


def edge_label(preview: str, count: int, limit: int = 24) -> str:
    """The text an edge shows: what its latest message holds, and how many messages it carries."""
    parts = [p for p in (summarise(preview, limit), count_note(count)) if p]
    return " · ".join(parts)

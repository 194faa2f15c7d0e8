"""Where a server's token comes from: an option, a file, or ``AGENTNB_TOKEN``."""

from __future__ import annotations

import os
import pathlib
import secrets

TOKEN_ENV = "AGENTNB_TOKEN"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def resolve_token(
    token: str | None = None, token_file: str | os.PathLike[str] | None = None
) -> tuple[str, bool]:
    """The token to use, and whether it was freshly generated."""
    if token:
        return token, False
    if token_file:
        text = pathlib.Path(token_file).read_text().strip()
        if not text:
            raise ValueError(f"token file {token_file} is empty")
        return text, False
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        return env, False
    return new_token(), True

"""Regenerate agentnb's protobuf/gRPC stubs from protos/.

Usage:
    python scripts/gen_protos.py          # write agentnb/_proto/
    python scripts/gen_protos.py --check  # exit 1 if the committed stubs are stale

The stubs are committed and never edited by hand. grpcio-tools writes absolute
imports (``from agentnb.v1 import agentnb_pb2``); this script rewrites them to
the private package's relative imports, and that is the only change made.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PROTO = "agentnb/v1/agentnb.proto"
OUT = ROOT / "agentnb" / "_proto"
FILES = ("agentnb_pb2.py", "agentnb_pb2.pyi", "agentnb_pb2_grpc.py")


def generate() -> dict[str, str]:
    """Run protoc into a temporary folder and return {file name: text}."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            str(PROTO_ROOT / PROTO),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {PROTO}")
        gen = pathlib.Path(tmp) / "agentnb" / "v1"
        out = {}
        for name in FILES:
            text = (gen / name).read_text()
            out[name] = text.replace("from agentnb.v1 import agentnb_pb2 as", "from . import agentnb_pb2 as")
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    opts = parser.parse_args()
    fresh = generate()
    stale = [n for n, t in fresh.items() if not (OUT / n).exists() or (OUT / n).read_text() != t]
    if opts.check:
        if stale:
            print(f"stale stubs: {', '.join(stale)}; run python scripts/gen_protos.py")
            return 1
        return 0
    for name, text in fresh.items():
        (OUT / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

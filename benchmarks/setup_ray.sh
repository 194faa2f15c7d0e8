#!/usr/bin/env bash
# A separate environment with Ray, the other baseline of bench_calls.py
# (--ray .venv-ray/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv-ray/bin/python ] || "$PYTHON" -m venv .venv-ray
.venv-ray/bin/python -m pip install -q --upgrade pip
.venv-ray/bin/python -m pip install -q "ray==2.50.1"
echo "now: .venv/bin/python benchmarks/bench_calls.py --ray .venv-ray/bin/python --agentscope .venv-agentscope/bin/python"

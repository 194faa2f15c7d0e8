#!/usr/bin/env bash
# A separate environment with AgentScope 0.1.1, the baseline of bench_scale.py
# (--agentscope .venv-agentscope/bin/python). It runs with the grpcio agentnb uses.
set -euo pipefail
cd "$(dirname "$0")/.."
GRPCIO=$(.venv/bin/python -c 'import grpc; print(grpc.__version__)')
PYTHON=${PYTHON:-python3}
[ -x .venv-agentscope/bin/python ] || "$PYTHON" -m venv .venv-agentscope
.venv-agentscope/bin/python -m pip install -q --upgrade pip
.venv-agentscope/bin/python -m pip install -q "agentscope[distribute]==0.1.1" tqdm
.venv-agentscope/bin/python -m pip install -q "grpcio==$GRPCIO"
echo "now: .venv/bin/python benchmarks/bench_scale.py --agentscope .venv-agentscope/bin/python (and bench_calls.py)"

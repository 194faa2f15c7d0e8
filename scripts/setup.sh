#!/usr/bin/env bash
# Set up agentnb on a fresh machine: system packages (when root), a virtual
# environment in .venv, and the package with its notebook, engine (Dask, Ray)
# and test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

# graphviz: the graph widget's layout; chromium: the browser tests (Playwright drives it);
# iproute2: ip netns and tc, the tests' other hosts and cut links
APT_PACKAGES=(graphviz chromium iproute2)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        # wait (up to 10 minutes) for another apt or dpkg run to let go of its lock
        LOCK_WAIT=(-o DPkg::Lock::Timeout=600)
        apt-get "${LOCK_WAIT[@]}" update -q
        apt-get "${LOCK_WAIT[@]}" install -y -q --no-install-recommends "${missing[@]}"
    fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[notebook,dask,ray,test]'

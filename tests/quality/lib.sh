# Shared helpers for the quality gates (sourced, not executed).
# Each gate script runs several checks; every check prints one line:
#   PASS <gate>/<check> (<seconds>s)   FAIL <gate>/<check> (<seconds>s)   SKIP <gate>/<check> -- <why>
# and the script ends with one summary line. It exits non-zero when any check failed.
# shellcheck shell=bash

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
COLL="collections/ansible_collections/fleetops/docker"
BIN="$ROOT/.venv/bin"

# Same environment the Makefile exports, so a gate also runs on its own (tests/quality/x.sh).
case ":$PATH:" in *":$BIN:"*) ;; *) export PATH="$BIN:$PATH" ;; esac
export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$ROOT/ansible.cfg}"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$ROOT/collections}"
export ANSIBLE_ROLES_PATH="${ANSIBLE_ROLES_PATH:-$ROOT/roles}"
export ANSIBLE_NOCOLOR=1 NO_COLOR=1 PY_COLORS=0

if [[ ! -x "$BIN/python" ]]; then
    echo "FAIL ${GATE:-quality}: $BIN/python is missing -- run 'make venv' first"
    exit 1
fi

GATE="${GATE:?set GATE before sourcing lib.sh}"
GATE_STARTED=$SECONDS
declare -a _PASSED=() _FAILED=() _SKIPPED=()

# check NAME COMMAND... : run COMMAND, print its PASS/FAIL line, keep going either way.
check() {
    local name="$1" started=$SECONDS rc=0
    shift
    echo "---- $GATE/$name: $*"
    "$@" || rc=$?
    if ((rc == 0)); then
        _PASSED+=("$name")
        echo "PASS $GATE/$name ($((SECONDS - started))s)"
    else
        _FAILED+=("$name")
        echo "FAIL $GATE/$name (exit $rc, $((SECONDS - started))s)"
    fi
}

# skip NAME REASON : a check that cannot run here. Never counted as passed.
skip() {
    _SKIPPED+=("$1")
    echo "SKIP $GATE/$1 -- $2"
}

# finish : the gate's one-line summary; exit 1 when any check failed (or none ran at all).
finish() {
    local took=$((SECONDS - GATE_STARTED))
    local counts="${#_PASSED[@]} passed, ${#_FAILED[@]} failed, ${#_SKIPPED[@]} skipped"
    if ((${#_FAILED[@]} > 0)); then
        echo "== FAIL $GATE: $counts in ${took}s -- failed: ${_FAILED[*]}"
        exit 1
    fi
    if ((${#_PASSED[@]} == 0)); then
        echo "== FAIL $GATE: no check ran in ${took}s"
        exit 1
    fi
    echo "== PASS $GATE: $counts in ${took}s${_SKIPPED:+ -- skipped: ${_SKIPPED[*]}}"
}

# find_python X.Y : print the path of a real Python X.Y interpreter, or nothing.
# Looks at pythonX.Y on PATH, then at pyenv's installed versions (its shims need PYENV_VERSION).
find_python() {
    local want="$1" candidate version
    local probe="import sys; assert sys.version_info[:2] == tuple(map(int, '$want'.split('.'))); print(sys.executable)"
    if candidate=$("python$want" -c "$probe" 2>/dev/null); then
        echo "$candidate"
        return 0
    fi
    if command -v pyenv >/dev/null 2>&1; then
        for version in $(pyenv versions --bare 2>/dev/null | grep -E "^${want//./\\.}(\.[0-9]+)?$" | sort -rV); do
            if candidate=$(PYENV_VERSION="$version" "python$want" -c "$probe" 2>/dev/null); then
                echo "$candidate"
                return 0
            fi
        done
    fi
    return 0
}

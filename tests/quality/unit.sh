#!/usr/bin/env bash
# Gate "unit": the collection's unit tests (pytest) on the controller's Python 3.11, then -- where those
# interpreters exist -- the same tests on Python 3.8 and a compile of all module code on Python 3.7
# (Amazon Linux 2's python3). A missing interpreter prints a SKIP line; it is never counted as a pass.
GATE=unit
source "$(dirname "$0")/lib.sh"

UNIT_DIR="$COLL/tests/unit"
VENV38="$ROOT/.venv38"
REQ38="tests/quality/requirements-py38.txt"
PY38PATH="$ROOT/build/py38path"   # holds only a symlink to ansible-core's `ansible` package

# pytest exit code 5 ("no tests collected") is a failure like any other non-zero code. A unit test still running
# after 5 minutes has hung (a server thread left behind, say): pytest-timeout fails it and the run goes on.
run_pytest() {
    local python="$1"
    shift
    (cd "$COLL" && "$@" "$python" -m pytest tests/unit -q -ra -p no:cacheprovider --timeout=300)
}

every_module_has_tests() {
    local module name missing=0 found=0
    for module in "$COLL"/plugins/modules/*.py; do
        name="$(basename "$module" .py)"
        [[ "$name" == __init__ ]] && continue
        found=$((found + 1))
        if [[ ! -f "$UNIT_DIR/plugins/modules/test_$name.py" ]]; then
            echo "module $name has no $UNIT_DIR/plugins/modules/test_$name.py"
            missing=1
        fi
    done
    ((found > 0)) || { echo "no modules found in $COLL/plugins/modules"; return 1; }
    for module in "$COLL"/plugins/module_utils/*.py; do
        name="$(basename "$module" .py)"
        [[ -f "$UNIT_DIR/plugins/module_utils/test_${name#_}.py" ]] ||
            echo "note: module_utils/$name.py has no test_${name#_}.py of its own (covered through the module tests)"
    done
    return "$missing"
}

# compile_all PYTHON : compile (in memory, no .pyc written) every Python file under plugins/.
compile_all() {
    find "$COLL/plugins" -name '*.py' -print0 | xargs -0 "$1" -c '
import sys
failed = 0
for path in sys.argv[1:]:
    with open(path, "rb") as source:
        try:
            compile(source.read(), path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            failed += 1
            print("%s:%s:%s: %s" % (path, exc.lineno, exc.offset, exc.msg))
print("compiled %d files on Python %s, %d failed" % (len(sys.argv) - 1, sys.version.split()[0], failed))
sys.exit(1 if failed or len(sys.argv) < 2 else 0)
'
}

prepare_venv38() {
    local python38="$1" stamp
    stamp="$("$python38" -V 2>&1) $(sha256sum "$REQ38" | cut -d' ' -f1)"
    if [[ ! -x "$VENV38/bin/python" || "$(cat "$VENV38/.installed" 2>/dev/null)" != "$stamp" ]]; then
        rm -rf "$VENV38"
        "$python38" -m venv "$VENV38" || return 1
        "$VENV38/bin/pip" install -q --disable-pip-version-check -r "$REQ38" || return 1
        echo "$stamp" >"$VENV38/.installed"
    fi
    # ansible-core's module_utils run on 3.8 (they are target-side code); import them from the 3.11 venv.
    # (check() runs this in an `||` context where `set -e` is off, hence the explicit `|| return 1`.)
    local ansible_pkg
    ansible_pkg="$("$BIN/python" -c 'import ansible, os; print(os.path.dirname(ansible.__file__))')" || return 1
    mkdir -p "$PY38PATH" && ln -sfn "$ansible_pkg" "$PY38PATH/ansible"
}

check modules-have-tests every_module_has_tests
check pytest-py3.11 run_pytest "$BIN/python" env PYTHONPATH="$ROOT/collections"

PY38="$(find_python 3.8)"
if [[ -n "$PY38" ]]; then
    check venv38 prepare_venv38 "$PY38"
    # PYTHONDONTWRITEBYTECODE: do not leave 3.8 .pyc files inside the 3.11 venv's ansible package.
    check pytest-py3.8 run_pytest "$VENV38/bin/python" env PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$PY38PATH:$ROOT/collections"
    check compile-py3.8 compile_all "$PY38"
else
    skip pytest-py3.8 "no Python 3.8 interpreter (python3.8 on PATH or a pyenv 3.8.x)"
fi

check py37-grammar "$BIN/python" "$ROOT/tests/quality/py37_syntax.py" "$COLL/plugins"

PY37="$(find_python 3.7)"
if [[ -n "$PY37" ]]; then
    check compile-py3.7 compile_all "$PY37"
else
    skip compile-py3.7 "no Python 3.7 interpreter (python3.7 on PATH or a pyenv 3.7.x)"
fi

finish

#!/usr/bin/env bash
# Gate "sanity": `ansible-test sanity` (every test, none skipped) for the collection on Python 3.11.
#
# Environment choice: `--local` -- the controller is .venv itself, which already holds ansible-core (and so
# ansible-test); no --requirements, no docker. ansible-test still builds one small venv per sanity test
# (pylint, validate-modules, yamllint, ...) under ~/.ansible/test/venv from PyPI, and bootstraps pip into each
# with a "get-pip" script it downloads from ci-files.testing.ansible.com, a host the build machines cannot
# reach. So before running we write that script ourselves into ansible-test's cache
# (~/.ansible/test/cache/get_pip_<ver>.py): a stand-in that installs pip from the interpreter's bundled
# ensurepip wheel (no network) and then the exact pip version ansible-test asks for from PyPI.
# A cached file that is not ours (e.g. the real one, downloaded by hand) is left alone.
#
# Which files: in a git checkout ansible-test takes `git ls-files --cached --others --exclude-standard`, so
# tracked and untracked-but-not-ignored files are tested, .gitignore'd ones (tests/output, caches) are not.
# Tests with nothing to check are listed as notes after the run (from the junit results).
GATE=sanity
source "$(dirname "$0")/lib.sh"

SANITY_PYTHON="${SANITY_PYTHON:-3.11}"
STANDIN_MARK="# fleetops get-pip stand-in"
LOG="$ROOT/build/quality/sanity.log"

write_get_pip_standin() {
    local pip_version cache
    pip_version="$("$BIN/python" -c '
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="'"$SANITY_PYTHON"'"))["pip"])')" || return 1
    cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
    if [[ -f "$cache" ]] && ! grep -qF "$STANDIN_MARK" "$cache"; then
        echo "using the existing $cache (not ours, left alone)"
        return 0
    fi
    mkdir -p "$(dirname "$cache")" || return 1
    cat >"$cache" <<PY || return 1
$STANDIN_MARK (written by tests/quality/sanity.sh; see there why).
# ansible-test runs it as: get-pip.py --disable-pip-version-check pip==$pip_version --no-setuptools --no-wheel
import importlib.util
import subprocess
import sys

args = sys.argv[1:]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
unwanted = [name for name in ("setuptools", "wheel") if "--no-" + name in args and importlib.util.find_spec(name)]
if unwanted:
    subprocess.call([sys.executable, "-m", "pip", "uninstall", "-q", "-y"] + unwanted)
packages = [arg for arg in args if not arg.startswith("-")]
if packages:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + packages)
PY
    echo "wrote $cache"
}

# Every line of an ignore file must say why: "path test  # reason".
ignores_are_justified() {
    local file bad=0
    for file in "$COLL"/tests/sanity/ignore-*.txt; do
        [[ -f "$file" ]] || continue
        echo "$file: $(grep -cv '^\s*$' "$file" || true) entries"
        if grep -nv '^\s*$' "$file" | grep -v ' # ..*'; then
            echo "^ entries without a '# reason' in $file"
            bad=1
        fi
    done
    return "$bad"
}

run_sanity() {
    mkdir -p "$(dirname "$LOG")"
    local rc=0 junit="$COLL/tests/output/junit"
    rm -rf "$junit"
    (cd "$COLL" && ansible-test sanity --local --python "$SANITY_PYTHON" --color no --junit) 2>&1 | tee "$LOG" || rc=$?
    # Say which tests had nothing to check (e.g. shellcheck: no shell scripts) -- nothing is skipped silently.
    "$BIN/python" - "$junit" <<'PY' || true
import glob
import sys
import xml.etree.ElementTree as ET

for path in sorted(glob.glob(sys.argv[1] + "/*.xml")):
    for case in ET.parse(path).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            print("  note: sanity test %s skipped: %s" % (case.get("name"), skipped.get("message") or skipped.text))
PY
    return "$rc"
}

check get-pip-standin write_get_pip_standin
check ignores-justified ignores_are_justified
check ansible-test-sanity run_sanity
finish

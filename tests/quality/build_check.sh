#!/usr/bin/env bash
# Gate "build-check", after antsibull-nox's build-import-check built the collection and ran galaxy-importer:
# the artifact holds no junk and carries the roles, it installs into a clean collections path, a module from that
# installed copy -- and only from it -- runs for real, and site.yml runs against the local fleet with only that path
# (roles called by FQCN from the tarball).
GATE=build-check
source "$(dirname "$0")/lib.sh"

# The artifact antsibull-nox's build-import-check session built (`make build-check` runs it first).
DIST="${NOX_BUILD_DIR:-$ROOT/build/nox/build-import-check/tmp/collection}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TARBALL=""
printf '[defaults]\n' >"$WORK/ansible.cfg"

artifact() {
    local version
    version="$("$BIN/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$COLL/galaxy.yml")" || return 1
    TARBALL="$DIST/fleetops-docker-$version.tar.gz"
    [[ -f "$TARBALL" ]] || { echo "no $TARBALL: run 'make build-check' (antsibull-nox builds it)"; return 1; }
    echo "built $TARBALL ($(tar -tzf "$TARBALL" | grep -vc '/$') files)"
}

# Caches, test output and built tarballs must not ship; the modules and module_utils must.
contents() {
    local listing junk
    [[ -f "$TARBALL" ]] || { echo "nothing built"; return 1; }
    listing="$(tar -tzf "$TARBALL")" || return 1
    junk="$(grep -E '(^|/)(\.pytest_cache|\.ruff_cache|__pycache__|\.git)/|^tests/output/|\.(pyc|tar\.gz)$' <<<"$listing" || true)"
    if [[ -n "$junk" ]]; then
        echo "unwanted files in the artifact (add them to build_ignore in galaxy.yml):"
        echo "$junk"
        return 1
    fi
    local file missing=0
    for file in MANIFEST.json FILES.json meta/runtime.yml CHANGELOG.rst $(cd "$COLL" && ls plugins/modules/*.py \
        plugins/module_utils/*.py plugins/filter/*.py roles/*/tasks/*.yml roles/*/meta/*.yml roles/*/defaults/*.yml \
        roles/*/templates/*.j2 roles/*/templates/*/*.j2); do
        grep -qxF "$file" <<<"$listing" || { echo "missing from the artifact: $file"; missing=1; }
    done
    return "$missing"
}

# Only the installed copy is visible: own config, collections path = the temp dir, no sys.path scan,
# run from the temp dir (no adjacent collections), and ansible-doc must name the installed file.
isolated() {
    (cd "$WORK" && env ANSIBLE_CONFIG="$WORK/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$WORK/collections" \
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_ROLES_PATH="$WORK/roles" "$@")
}

install_tarball() {
    [[ -f "$TARBALL" ]] || { echo "nothing built"; return 1; }
    # --offline: the collection depends on nothing, so Galaxy is never needed.
    isolated ansible-galaxy collection install --offline -p "$WORK/collections" "$TARBALL" || return 1
    [[ -f "$WORK/collections/ansible_collections/fleetops/docker/plugins/modules/daemon_config.py" ]]
}

# run_daemon_config EXPECT_CHANGED CONFIG_JSON [ansible options...] : run the installed module on localhost.
run_daemon_config() {
    local expect="$1" config="$2"
    shift 2
    isolated env ANSIBLE_CALLBACK_RESULT_FORMAT=json \
        ansible localhost -i localhost, -c local -e ansible_python_interpreter="$BIN/python" "$@" \
        -m fleetops.docker.daemon_config -a "{\"path\": \"$WORK/daemon.json\", \"config\": $config}" >"$WORK/out.txt"
    local rc=$?
    "$BIN/python" - "$expect" "$WORK/out.txt" "$rc" <<'PY'
import json
import sys

expect, path, rc = sys.argv[1:]
text = open(path).read()
# ad-hoc output: "localhost | CHANGED => {json}" (diff text, if any, comes first)
result = json.loads(text[text.index("localhost | "):].split(" => ", 1)[1])
print("exit=%s changed=%s restart_required=%s" % (rc, result.get("changed"), result.get("restart_required")))
if rc != "0" or result.get("failed") or str(result.get("changed")).lower() != expect:
    print(text)
    sys.exit(1)
PY
}

run_installed_module() {
    local doc
    [[ -d "$WORK/collections/ansible_collections/fleetops/docker" ]] || { echo "not installed"; return 1; }
    doc="$(isolated ansible-doc fleetops.docker.daemon_config 2>&1 | head -n 1)"
    echo "$doc"
    [[ "$doc" == *"($WORK/collections/ansible_collections/fleetops/docker/plugins/modules/daemon_config.py)"* ]] ||
        { echo "ansible-doc did not resolve the installed copy"; return 1; }
    rm -f "$WORK/daemon.json"
    run_daemon_config true '{"debug": true, "log-opts": {"max-size": "10m"}}' || return 1
    "$BIN/python" -c 'import json, sys; data = json.load(open(sys.argv[1])); print("daemon.json:", data); \
        sys.exit(data != {"debug": True, "log-opts": {"max-size": "10m"}})' "$WORK/daemon.json" || return 1
    echo "second run, same config:"
    run_daemon_config false '{"debug": true}' || return 1
    echo "check mode, changed value (the file must stay as it is):"
    run_daemon_config true '{"debug": false}' --check --diff || return 1
    "$BIN/python" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["debug"] is not True)' "$WORK/daemon.json" ||
        { echo "check mode changed the file"; return 1; }
}

# site.yml from a copy of playbooks/ in the temp dir, the local fleet's inventory, and only the installed collection.
run_site_from_tarball() {
    [[ -d "$WORK/collections/ansible_collections/fleetops/docker/roles/docker_engine" ]] ||
        { echo "the installed collection has no roles"; return 1; }
    "$BIN/python" tests/fleet/fleet.py up || return 1
    cp -r "$ROOT/playbooks" "$WORK/playbooks"
    # The natively running hosts (the emulated arm64 host's first install takes about ten minutes).
    isolated ansible-playbook -i "$ROOT/inventory/local" playbooks/site.yml -e 'fleet_hosts=docker_hosts:!debian_arm64' \
        || return 1
    local found
    found="$(isolated ansible-galaxy collection list fleetops.docker 2>/dev/null | grep -c '^fleetops.docker ')"
    ((found == 1)) || { echo "fleetops.docker is visible $found times (want exactly the installed copy)"; return 1; }
    "$BIN/python" - "$WORK/reports" <<'PY'
import glob, json, sys
reports = sorted(glob.glob(sys.argv[1] + "/fleet-*.json"))
assert reports, "site.yml wrote no report in " + sys.argv[1]
report = json.load(open(reports[-1]))
print("report:", reports[-1], report["summary"])
assert report["hosts"] and all(h["status"] == "ok" for h in report["hosts"]), report["summary"]
PY
}

check artifact artifact
check artifact-contents contents
check install install_tarball
check run-installed-module run_installed_module
check site-from-tarball run_site_from_tarball
finish

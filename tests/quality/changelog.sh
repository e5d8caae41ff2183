#!/usr/bin/env bash
# Gate "changelog": antsibull-changelog fragments and metadata are valid, and the committed CHANGELOG.rst is
# exactly what `antsibull-changelog generate` makes of changelogs/changelog.yaml.
# Release flow (from the collection dir): add fragments to changelogs/fragments/, then
#   antsibull-changelog release --version X.Y.Z   (bump galaxy.yml's version first)
GATE=changelog
source "$(dirname "$0")/lib.sh"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

in_coll() { (cd "$COLL" && "$@"); }

changelog_is_current() {
    # Regenerate in a scratch copy so the check never rewrites the tree.
    tar -C "$COLL" --exclude=./tests/output -cf - . | (mkdir -p "$WORK/coll" && tar -C "$WORK/coll" -xf -) || return 1
    [[ -f "$COLL/CHANGELOG.rst" ]] || { echo "$COLL/CHANGELOG.rst is missing"; return 1; }
    (cd "$WORK/coll" && antsibull-changelog generate) || return 1
    if ! diff -u "$COLL/CHANGELOG.rst" "$WORK/coll/CHANGELOG.rst"; then
        echo "CHANGELOG.rst is stale: run 'antsibull-changelog generate' in $COLL"
        return 1
    fi
    echo "CHANGELOG.rst matches changelogs/changelog.yaml"
}

# galaxy.yml's version must be a released version in changelog.yaml, and every fragment either belongs to a
# release or waits for the next one (listed, not an error).
versions_agree() {
    "$BIN/python" - "$COLL" <<'PY'
import os
import sys

import yaml

coll = sys.argv[1]
version = yaml.safe_load(open(os.path.join(coll, "galaxy.yml")))["version"]
releases = yaml.safe_load(open(os.path.join(coll, "changelogs", "changelog.yaml")))["releases"] or {}
released = {name for release in releases.values() for name in release.get("fragments", [])}
pending = sorted(set(os.listdir(os.path.join(coll, "changelogs", "fragments"))) - released)
for name in pending:
    print("pending for the next release: changelogs/fragments/%s" % name)
if version not in releases:
    print("galaxy.yml version %s has no release in changelogs/changelog.yaml (released: %s); "
          "run 'antsibull-changelog release'" % (version, ", ".join(releases) or "none"))
    sys.exit(1)
print("galaxy.yml version %s is released in changelog.yaml" % version)
PY
}

check lint-fragments in_coll antsibull-changelog lint
check lint-changelog-yaml in_coll antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
check versions versions_agree
check changelog-current changelog_is_current
finish

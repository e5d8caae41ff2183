#!/usr/bin/env bash
# Gate "lint": ruff over every Python file (ruff.toml: py37 syntax for module code, py38 for unit tests),
# ansible-lint --profile production (.ansible-lint) run at the repository root over everything it recognises
# (the collection, playbooks, Molecule scenarios, inventory, bench, test playbooks), and a guard that roles/playbooks/module code use no collection but ansible.builtin and
# fleetops.docker (the collection depends on ansible-core alone).
GATE=lint
source "$(dirname "$0")/lib.sh"

ansible_lint() {
    [[ -d "$COLL/roles" && -d playbooks ]] || { echo "$COLL/roles/ and playbooks/ must exist"; return 1; }
    ansible-lint --profile production --offline --nocolor
}

# Task keys, filters and lookups naming another collection (ns.coll.name) in roles, playbooks and molecule;
# imports of another collection in module code.
only_core_and_own_collection() {
    local found
    found="$(grep -rnE --include='*.yml' --include='*.yaml' \
        -e '^\s*-?\s*[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+:\s*' \
        -e '\|\s*[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+' \
        -e "(lookup|query)\(\s*['\"][a-z0-9_]+\.[a-z0-9_]+\." \
        "$COLL/roles" roles playbooks $( [[ -d molecule ]] && echo molecule) |
        grep -vE '(ansible\.builtin|fleetops\.docker)\.[a-z0-9_]+' || true)"
    found+="$(grep -rnE --include='*.py' 'ansible_collections\.' "$COLL/plugins" | grep -v 'ansible_collections\.fleetops\.docker\.' || true)"
    if [[ -n "$found" ]]; then
        echo "uses a collection other than ansible.builtin / fleetops.docker:"
        echo "$found"
        return 1
    fi
    echo "only ansible.builtin and fleetops.docker are used"
}

# Host keys are checked for every inventory (only inventory/local turns it off, for its throwaway containers).
host_key_checking_on() {
    local line
    line="$(ANSIBLE_CONFIG="$ROOT/ansible.cfg" ansible-config dump 2>/dev/null | grep '^HOST_KEY_CHECKING')"
    echo "$line"
    [[ "$line" == *"= True" ]]
}

check ruff ruff check --no-cache --output-format concise .
check ansible-lint ansible_lint
check collection-deps only_core_and_own_collection
check host-key-checking host_key_checking_on
finish

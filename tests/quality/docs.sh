#!/usr/bin/env bash
# Gate "docs": ansible-doc renders every module of the collection and every entry point of every role
# argument spec (the collection's roles/*/meta/argument_specs.yml). ansible-doc exits 0 for a plugin it cannot find or
# cannot parse (it only warns), so each rendering must also be warning-free and show the expected header.
GATE=docs
source "$(dirname "$0")/lib.sh"

OUT="$ROOT/build/quality/docs"
mkdir -p "$OUT"

# render NAME HEADER... -- ANSIBLE-DOC-ARGS... : ansible-doc must exit 0, print no warning/error, and the
# first lines of its output must contain every HEADER.
render() {
    local name="$1" rc=0 header
    local -a headers=()
    shift
    while [[ "$1" != -- ]]; do headers+=("$1"); shift; done
    shift
    ansible-doc "$@" >"$OUT/$name.txt" 2>"$OUT/$name.err" || rc=$?
    if ((rc != 0)) || grep -qE '\[(WARNING|ERROR|DEPRECATION WARNING)\]|^ERROR' "$OUT/$name.err"; then
        echo "ansible-doc $* -> exit $rc:"
        cat "$OUT/$name.err"
        return 1
    fi
    for header in "${headers[@]}"; do
        if ! head -n 5 "$OUT/$name.txt" | grep -qF -- "$header"; then
            echo "ansible-doc $* did not render '$header'; it printed:"
            head -n 5 "$OUT/$name.txt"
            return 1
        fi
    done
    echo "rendered $(wc -l <"$OUT/$name.txt") lines"
}

modules=()
for file in "$COLL"/plugins/modules/*.py; do
    [[ "$(basename "$file")" == __init__.py ]] || modules+=("$(basename "$file" .py)")
done
if ((${#modules[@]} == 0)); then
    check modules-found false
fi
for module in "${modules[@]}"; do
    # The header names the file it rendered: it must be this repo's copy, not some other installed one.
    check "module:$module" render "module-$module" "> MODULE fleetops.docker.$module ($ROOT/$COLL/plugins/modules/$module.py)" \
        -- "fleetops.docker.$module"
done

specs=0
for role_dir in "$COLL"/roles/*/; do
    role="$(basename "$role_dir")"
    spec="$role_dir/meta/argument_specs.yml"
    if [[ ! -f "$spec" ]]; then
        echo "note: role $role has no meta/argument_specs.yml"
        continue
    fi
    specs=$((specs + 1))
    entry_points="$("$BIN/python" -c 'import sys, yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))["argument_specs"]))' "$spec")" || {
        check "role:$role" false
        continue
    }
    for entry_point in $entry_points; do
        check "role:$role:$entry_point" render "role-$role-$entry_point" "> ROLE: *fleetops.docker.$role* ($ROOT/$COLL)" "ENTRY POINT: *$entry_point*" \
            -- -t role -e "$entry_point" "fleetops.docker.$role"
    done
done
((specs > 0)) || check role-argument-specs-found false

finish

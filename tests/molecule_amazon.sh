#!/usr/bin/env bash
# Molecule scenarios on real Amazon Linux 2 / 2023 hosts. They need the official images and Amazon's package
# repositories; where those cannot be reached (these build machines), each scenario is reported as SKIPPED --
# not run, not passed.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A images=([amazonlinux2]=amazonlinux:2 [amazonlinux2023]=amazonlinux:2023)
for scenario in amazonlinux2 amazonlinux2023; do
  image=${images[$scenario]}
  if [[ $scenario == amazonlinux2 && $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then
    echo "molecule $scenario: SKIPPED (not run) -- AL2's systemd 219 cannot boot on a cgroup v2 host; run it on a" \
         "cgroup v1 (or hybrid) Docker host."
    continue
  fi
  if docker image inspect "$image" >/dev/null 2>&1 || timeout 60 docker pull -q "$image" >/dev/null 2>&1; then
    echo "molecule $scenario: running on $image"
    .venv/bin/python tests/fleet/fleet.py prepare
    .venv/bin/molecule test -s "$scenario"
  else
    echo "molecule $scenario: SKIPPED (not run) -- the image $image cannot be pulled from this machine;" \
         "run 'make molecule-amazon' where Docker Hub (or a mirror with $image) and Amazon's repos are reachable."
  fi
done

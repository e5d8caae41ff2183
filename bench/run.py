#!/usr/bin/env python3
"""Side-by-side benchmark on the local test fleet: fleetops.docker vs community.docker vs the docker CLI.

Every contender runs against the same hosts (inventory/local, over SSH) and the same registry stand-in, in one run,
interleaved round by round, so the machine's load affects them alike. The output is ratios against fleetops.docker
(medians of --rounds); absolute seconds are printed for context only. Not a test: nothing here asserts a timing.

    make bench                     # `make bench` brings the fleet up and converges it first
    bench/run.py --rounds 5
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = ROOT / "bench" / "playbooks"
TOOLS = Path(sys.executable).parent  # the venv's bin
sys.path.insert(0, str(ROOT / "tests" / "fleet"))
from fixtures import PINNED_DIGEST  # noqa: E402

IMAGES = ["busybox", "alpine", "quay.io/centos7/httpd-24-centos7", "fleetops/arm64-only",
          f"fleetops/pinned@{PINNED_DIGEST}"]
CONTENDERS = ["fleetops", "community", "cli"]
# (measurement, playbook prefix, remove the images before each run?)
MEASUREMENTS = [("pull, images absent", "pull", True),
                ("pull again, images present (idempotent run)", "pull", False),
                ("image facts", "facts", False)]


def playbook(name, extra=None):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    args = [str(TOOLS / "ansible-playbook"), str(PLAYBOOKS / f"{name}.yml"), "-e", json.dumps({"bench_images": IMAGES, **(extra or {})})]
    started = time.monotonic()
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if proc.returncode:
        sys.exit(f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    playbook("setup")
    samples = {(m, c): [] for m, _, _ in MEASUREMENTS for c in CONTENDERS}
    for round_no in range(1, args.rounds + 1):
        for measurement, prefix, clean in MEASUREMENTS:
            for contender in CONTENDERS:
                if clean:
                    playbook("clean")
                elif prefix == "pull":
                    playbook("pull_fleetops")  # make sure every image is present first
                samples[(measurement, contender)].append(playbook(f"{prefix}_{contender}"))
        print(f"round {round_no}/{args.rounds} done", file=sys.stderr)

    hosts = subprocess.run([str(TOOLS / "ansible-inventory"), "--graph", "docker_hosts"], cwd=ROOT,
                           capture_output=True, text=True).stdout.count("|--")
    lines = [f"# Benchmark: {len(IMAGES)} images on {hosts} hosts, median of {args.rounds} rounds "
             f"(wall time of ansible-playbook, SSH to the local fleet)", "",
             "| measurement | fleetops.docker | community.docker | docker CLI | community / fleetops | CLI / fleetops |",
             "|---|---|---|---|---|---|"]
    for measurement, _, _ in MEASUREMENTS:
        med = {c: statistics.median(samples[(measurement, c)]) for c in CONTENDERS}
        lines.append(f"| {measurement} | {med['fleetops']:.2f} s | {med['community']:.2f} s | {med['cli']:.2f} s "
                     f"| {med['community'] / med['fleetops']:.2f}x | {med['cli'] / med['fleetops']:.2f}x |")
    lines += ["", "Ratios above 1 mean fleetops.docker was faster. community.docker needed python3-requests "
              "installed on every host first; fleetops.docker needs only the Python standard library."]
    report = "\n".join(lines) + "\n"
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / time.strftime("%Y%m%d-%H%M%S.md")).write_text(report)
    print(report)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""What image_pull's platform guard costs: the same pulls with platform_guard=off and =fail, side by side.

The guard asks the registry (GET /distribution/{name}/json through the host's dockerd) once per image that is
about to be pulled without a platform. Each round removes the images and pulls them on every fleet host with the
guard off, then on (the order alternates between rounds); the times are image_pull's own per-image seconds, so
SSH and Ansible do not blur them. Not a test: nothing here asserts a timing.

    make fleet-up && ansible-playbook playbooks/site.yml   # a converged local fleet (amd64 and arm64 hosts)
    bench/guard.py --rounds 5
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(sys.executable).parent  # the venv's bin
IMAGES = ["busybox", "alpine"]  # multi-arch: every host pulls them in both modes


def one_round(order, inventory, hosts):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    extra = {"bench_images": IMAGES, "bench_order": order, "bench_hosts": hosts}
    args = [str(TOOLS / "ansible-playbook"), str(ROOT / "bench" / "playbooks" / "guard.yml"), "-e", json.dumps(extra)]
    args += ["-i", inventory] if inventory else []
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"guard.yml failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    timings = {}
    for host, data in re.findall(r"BENCH (\S+) (\{[^}]*\})", proc.stdout):
        timings[host] = json.loads(data)
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hosts", default="docker_hosts", help="host pattern (default: docker_hosts)")
    parser.add_argument("--inventory", help="another inventory than ansible.cfg's (a Molecule instance's)")
    args = parser.parse_args()
    samples = {}
    for round_no in range(args.rounds):
        order = ["off", "fail"] if round_no % 2 == 0 else ["fail", "off"]
        for host, timing in one_round(order, args.inventory, args.hosts).items():
            for guard, seconds in timing.items():
                samples.setdefault(host, {}).setdefault(guard, []).append(seconds / len(IMAGES))
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    lines = [f"# Platform guard: {len(IMAGES)} images pulled absent, per image, median of {args.rounds} rounds "
             "(image_pull's own seconds)", "",
             "| host | guard off | guard fail | fail / off | guard round trip |", "|---|---|---|---|---|"]
    for host in sorted(samples):
        off, on = (statistics.median(samples[host][g]) for g in ("off", "fail"))
        lines.append(f"| {host} | {off:.3f} s | {on:.3f} s | {on / off:.2f}x | {(on - off) * 1000:+.0f} ms |")
    report = "\n".join(lines) + "\n"
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / time.strftime("guard-%Y%m%d-%H%M%S.md")).write_text(report)
    print(report)


if __name__ == "__main__":
    main()

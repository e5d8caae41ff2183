#!/usr/bin/env python3
"""Benchmarks that answer operators' questions, side by side in one run, as ratios.

The bench runs on its own hosts (bench-host1..8, the fleet's cached bookworm image) against the fleet's registry
stand-in, with realistic images (bench/images.py: a ~300 MB 4-layer stand-in of quay.io/centos7/httpd-24-centos7
and five images of 9 to 80 MB, real files of Debian packages). Sections, each a table:

  pull        fresh hosts (images removed) pull the 6 images: (a) fleetops.docker.image_pull in one task,
              (b) community.docker.docker_image_pull in a loop, (c) every `docker pull` started at once in one
              shell through one SSH command per host (the physical limit); ratios a/b and a/c
  pigz        the (c) pull with dockerd using unpigz and with MOBY_DISABLE_PIGZ=1 (systemd drop-in)
  facts       50 local images: (a) image_facts, (b) docker_image_info with the list, (c) one `docker image inspect`;
              and image_facts remote=true, with the registry requests counted from the registry's access log
  noop        site.yml on the converged hosts against a naive playbook (bench/playbooks/naive.yml): wall time,
              task count, per-task profile (ansible.posix.profile_tasks)
  controller  the no-op site.yml with SSH pipelining and ControlPersist on and off, and Mitogen's strategy
  memory      peak RSS (VmHWM) of each module on the target: 50-image facts, 6-image pull
  scale       site.yml converge (fresh hosts) and no-op on 1, 2, 4, 8 hosts at forks 50, with where the CPU went

Every contender of a section runs in the same round, in rotating order, so the machine's load falls on all alike;
medians of --rounds. Each ansible-playbook run starts with no SSH master connection (its own ControlPath
directory), as an operator's run does. Not a test: nothing here asserts a timing.

    make bench                                  # everything, 5 rounds
    bench/run.py --only pull,facts --rounds 1   # a smoke run of two sections
    bench/run.py --down                         # remove the bench hosts
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hosts
import images

ROOT = hosts.ROOT
PLAYBOOKS = ROOT / "bench" / "playbooks"
SECTIONS = ["pull", "pigz", "facts", "noop", "controller", "memory", "scale"]
MITOGEN = "0.3.54"  # ansible_mitogen of this release has ansible-core 2.19 code paths (checked in its loaders/mixins)
PROFILE = re.compile(r"^(.+?) -{2,} (\d+\.\d+)s$")

# What the bench hosts run: the bench images, the role defaults otherwise (no remote facts, pull: missing).
BENCH_VARS = {"docker_images_required": images.references(), "docker_images_remote_facts": False,
              "bench_facts_images": images.FACTS_IMAGES,
              "fleet_report_dir": str(hosts.STATE / "reports")}


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class RunFailed(Exception):
    def __init__(self, name, stdout, stderr):
        errors = [line.strip() for line in stdout.splitlines() if line.startswith(("[ERROR]", "fatal:"))]
        self.reason = errors[0][:300] if errors else stderr.strip()[-300:]
        super().__init__(f"{name} failed:\n{stdout[-4000:]}\n{stderr[-2000:]}")


class Run:
    """One ansible-playbook run: wall time and cost, task count, profile_tasks lines."""

    def __init__(self, playbook, extra=None, limit=None, env=None, profile=False):
        with tempfile.TemporaryDirectory(prefix="bench-cp-") as control:
            args = [str(hosts.TOOLS / "ansible-playbook"), str(playbook)]
            if extra:
                args += ["-e", json.dumps(extra)]
            if limit:
                args += ["--limit", limit]
            more = {"ANSIBLE_SSH_CONTROL_PATH_DIR": control, **(env or {})}
            if profile:
                more.update(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
                            PROFILE_TASKS_TASK_OUTPUT_LIMIT="all", PROFILE_TASKS_SORT_ORDER="none")
            with hosts.Cost() as self.cost:
                proc = subprocess.run(args, cwd=ROOT, env=hosts.ansible_env(**more), capture_output=True, text=True)
        if proc.returncode:
            raise RunFailed(Path(playbook).name, proc.stdout, proc.stderr)
        self.wall = self.cost.wall
        self.tasks = proc.stdout.count("\nTASK [")
        recap = re.findall(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=\d+\s+skipped=(\d+)", proc.stdout)
        self.results = sum(int(ok) + int(skipped) for ok, _, skipped in recap)
        self.changed = sum(int(changed) for _, changed, _ in recap)
        self.module_seconds = max((float(x) for x in re.findall(r"BENCH (\d+(?:\.\d+)?)", proc.stdout)), default=None)
        self.profile = [(m.group(1).strip(), float(m.group(2))) for m in map(PROFILE.match, proc.stdout.splitlines()) if m]


class Shell:
    """A command on every bench host at once, one SSH command each (no Ansible), timed like a Run."""

    def __init__(self, command):
        with hosts.Cost() as self.cost:
            hosts.ssh_all(command)
        self.wall = self.cost.wall


def rotate(items, round_no):
    shift = round_no % len(items)
    return items[shift:] + items[:shift]


def median(samples, attr="wall"):
    return statistics.median(getattr(s, attr) for s in samples)


def ratio(a, b):
    return f"{a / b:.2f}" if b else "n/a"


def shell_pull(refs):
    pulls = " ".join(f"docker pull -q {ref} >/dev/null & pids=\"$pids $!\";" for ref in refs)
    return f"pids=; {pulls} rc=0; for p in $pids; do wait $p || rc=1; done; exit $rc"


def clean(refs):
    hosts.ssh_all(f"docker rmi -f {' '.join(refs)} >/dev/null 2>&1; docker image prune -f >/dev/null")


def target_table(rows):
    return ["| target | measured | verdict |", "|---|---|---|",
            *[f"| {name} | {value} | {'met' if ok else 'MISSED'} |" for name, value, ok in rows]]


# ---------------------------------------------------------------- sections
def bench_pull(args, out):
    refs = images.references()
    contenders = {
        "a": lambda: Run(PLAYBOOKS / "pull_fleetops.yml", {"bench_images": refs, "bench_concurrency": len(refs)}),
        "b": lambda: Run(PLAYBOOKS / "pull_community.yml", {"bench_images": refs}),
        "c": lambda: Shell(shell_pull(refs)),
        "ping": lambda: Run(PLAYBOOKS / "ping.yml"),
    }
    samples = {c: [] for c in contenders}
    for round_no in range(args.rounds):
        for name in rotate(list(contenders), round_no):
            if name != "ping":
                clean(refs)
            samples[name].append(contenders[name]())
        log(f"pull: round {round_no + 1}/{args.rounds}")
    med = {c: median(s) for c, s in samples.items()}
    labels = {"a": "(a) fleetops.docker.image_pull, one task", "b": "(b) community.docker.docker_image_pull, loop",
              "c": "(c) all `docker pull` at once, one SSH command per host",
              "ping": "baseline: ansible-playbook running one ping task (no pull)"}
    out += [f"## Pull: {len(refs)} images absent, {len(hosts.current_ports())} hosts, median of {args.rounds}", "",
            "| contender | wall | controller CPU | hosts CPU | CPU busy |", "|---|---|---|---|---|"]
    for c in contenders:
        out.append(f"| {labels[c]} | {med[c]:.2f} s | {statistics.median(s.cost.controller for s in samples[c]):.1f} s "
                   f"| {statistics.median(s.cost.host_cpu for s in samples[c]):.1f} s "
                   f"| {statistics.median(s.cost.busy for s in samples[c]):.0%} |")
    own = statistics.median(s.module_seconds for s in samples["a"])
    out += ["", f"image_pull's own time (its slowest image, the slowest host): {own:.2f} s, {ratio(own, med['c'])} of (c); "
            f"(a) minus the baseline: {med['a'] - med['ping']:.2f} s, {ratio(med['a'] - med['ping'], med['c'])} of (c).",
            "", *target_table([("a/b ≤ 0.5", ratio(med["a"], med["b"]), med["a"] <= 0.5 * med["b"]),
                               ("a/c ≤ 1.3", ratio(med["a"], med["c"]), med["a"] <= 1.3 * med["c"])]), ""]
    return med


def bench_pigz(args, out):
    refs = images.references()
    unpigz = hosts.ssh_all("command -v unpigz || echo missing")
    samples = {True: [], False: []}
    try:
        for round_no in range(args.rounds):
            for pigz in rotate([True, False], round_no):
                Run(PLAYBOOKS / "pigz.yml", {"bench_pigz": pigz})
                clean(refs)
                samples[pigz].append(Shell(shell_pull(refs)))
            log(f"pigz: round {round_no + 1}/{args.rounds}")
    finally:
        Run(PLAYBOOKS / "pigz.yml", {"bench_pigz": True})
    on, off = median(samples[True]), median(samples[False])
    out += [f"## unpigz: the (c) pull of {len(refs)} images, median of {args.rounds}", "",
            f"unpigz on the hosts: {', '.join(sorted({v.strip() for v in unpigz.values()}))}", "",
            "| dockerd | wall | hosts CPU | CPU busy |", "|---|---|---|---|"]
    for pigz, label in ((True, "unpigz on PATH (default)"), (False, "MOBY_DISABLE_PIGZ=1")):
        s = samples[pigz]
        out.append(f"| {label} | {median(s):.2f} s | {statistics.median(x.cost.host_cpu for x in s):.1f} s "
                   f"| {statistics.median(x.cost.busy for x in s):.0%} |")
    out += ["", f"without / with unpigz: {ratio(off, on)}", ""]


def registry_requests(host_ip, since, until):
    """Requests from one host in the registry's access log between two times: (all, by kind)."""
    logs = subprocess.run(["docker", "logs", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
                           hosts.fleet.REGISTRY], capture_output=True, text=True)
    kinds = {}
    for line in (logs.stdout + logs.stderr).splitlines():
        match = re.match(rf'{re.escape(host_ip)} .*?"(\w+) (/v2/\S*)', line)
        if match:
            method, path = match.groups()
            kind = "/v2/ ping" if path == "/v2/" else f"{method} {path.split('/')[-2]}"
            kinds[kind] = kinds.get(kind, 0) + 1
    return sum(kinds.values()), ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))


def bench_facts(args, out):
    refs, host = images.FACTS_IMAGES, hosts.names(1)[0]
    base = {"bench_images": refs}
    contenders = {
        "a": lambda: Run(PLAYBOOKS / "facts_fleetops.yml", base, limit=host),
        "b": lambda: Run(PLAYBOOKS / "facts_community.yml", base, limit=host),
        "c": lambda: Run(PLAYBOOKS / "facts_cli.yml", base, limit=host),
        "remote": lambda: Run(PLAYBOOKS / "facts_fleetops.yml", {**base, "bench_remote": True}, limit=host),
    }
    samples = {c: [] for c in contenders}
    for round_no in range(args.rounds):
        for name in rotate(list(contenders), round_no):
            samples[name].append(contenders[name]())
        log(f"facts: round {round_no + 1}/{args.rounds}")
    ip = hosts.fleet.docker("inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{hosts.fleet.NETWORK}").IPAddress}}}}',
                            host).stdout.strip()
    requests = {}
    for name in ("a", "remote"):
        time.sleep(2)  # the previous run's last requests stay out of this one's window
        started = time.time()
        contenders[name]()
        time.sleep(1)
        requests[name] = registry_requests(ip, started, time.time())
    med = {c: median(s) for c, s in samples.items()}
    out += [f"## Facts: {len(refs)} local images on 1 host, median of {args.rounds}", "",
            "| contender | wall | registry requests (one run) |", "|---|---|---|"]
    for c, label in (("a", "(a) fleetops.docker.image_facts"), ("b", "(b) community.docker.docker_image_info, list"),
                     ("c", "(c) one `docker image inspect` of all 50 (command task)"),
                     ("remote", "fleetops.docker.image_facts remote=true")):
        reqs = f"{requests[c][0]} ({requests[c][1] or 'none'})" if c in requests else "-"
        out.append(f"| {label} | {med[c]:.2f} s | {reqs} |")
    out += ["", f"remote=true costs {med['remote'] - med['a']:+.2f} s for {len(refs)} images "
            f"({(med['remote'] - med['a']) / len(refs) * 1000:.0f} ms per image).", "",
            *target_table([("a/b ≤ 1.1", ratio(med["a"], med["b"]), med["a"] <= 1.1 * med["b"])]), ""]


def profile_lines(run, top=12):
    rows = sorted(run.profile, key=lambda item: -item[1])[:top]
    return [f"| {name.replace('|', '/')} | {seconds:.2f} s |" for name, seconds in rows]


def converge():
    Run(ROOT / "playbooks" / "site.yml")


def bench_noop(args, out):
    converge()
    Run(PLAYBOOKS / "naive.yml")
    contenders = {"site": lambda: Run(ROOT / "playbooks" / "site.yml", profile=True),
                  "naive": lambda: Run(PLAYBOOKS / "naive.yml", profile=True)}
    samples = {c: [] for c in contenders}
    for round_no in range(args.rounds):
        for name in rotate(list(contenders), round_no):
            samples[name].append(contenders[name]())
        log(f"noop: round {round_no + 1}/{args.rounds}")
    med = {c: median(s) for c, s in samples.items()}
    count = len(hosts.current_ports())
    out += [f"## No-op re-run on {count} converged hosts, median of {args.rounds}", "",
            "| playbook | wall | tasks run | host results | changed | controller CPU |", "|---|---|---|---|---|---|"]
    for c, label in (("site", "playbooks/site.yml"), ("naive", "bench/playbooks/naive.yml")):
        last = samples[c][-1]
        out.append(f"| {label} | {med[c]:.2f} s | {last.tasks} | {last.results} | {last.changed} "
                   f"| {statistics.median(s.cost.controller for s in samples[c]):.1f} s |")
    out += ["", *target_table([("site / naive ≤ 0.5", ratio(med["site"], med["naive"]), med["site"] <= 0.5 * med["naive"])]), ""]
    for c, label in (("site", "site.yml"), ("naive", "naive.yml")):
        out += [f"Per-task profile of {label} (last round, slowest first):", "", "| task | seconds |", "|---|---|",
                *profile_lines(samples[c][-1]), ""]
    return med


def mitogen_env():
    """Mitogen's strategy from a pinned release in .fleet/bench/mitogen (installed once), or None.

    Two differences from the builtin strategy need the bench's help. Mitogen's SSH checks host keys whatever
    ansible_ssh_common_args say: host_key_checking is turned off instead (the local fleet's throwaway containers,
    as its group_vars intend). It runs the report's `delegate_to: localhost` tasks through sudo although they say
    `become: false`: on a controller that runs as root without sudo, a shim on PATH runs the command itself."""
    target = hosts.STATE / "mitogen"
    if not (target / "ansible_mitogen").exists():
        got = subprocess.run([str(hosts.TOOLS / "pip"), "install", "-q", "--target", str(target), f"mitogen=={MITOGEN}"],
                             capture_output=True, text=True)
        if got.returncode:
            log(f"mitogen {MITOGEN} not installed: {got.stderr.strip()[-300:]}")
            return None
    env = {"ANSIBLE_STRATEGY_PLUGINS": str(target / "ansible_mitogen" / "plugins" / "strategy"),
           "ANSIBLE_STRATEGY": "mitogen_linear", "PYTHONPATH": str(target), "ANSIBLE_HOST_KEY_CHECKING": "False"}
    if os.geteuid() == 0 and not shutil.which("sudo"):
        shim = hosts.STATE / "bin" / "sudo"
        shim.parent.mkdir(parents=True, exist_ok=True)
        shim.write_text('#!/bin/sh\n# root already: drop sudo\'s options up to "--" and run the command\n'
                        'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n')
        shim.chmod(0o755)
        env["PATH"] = f"{shim.parent}:{hosts.TOOLS}:{os.environ['PATH']}"
    return env


def bench_controller(args, out):
    site = ROOT / "playbooks" / "site.yml"
    no_persist = "-o ControlMaster=no -o ServerAliveInterval=30"
    configs = {"pipelining on, ControlPersist on (ansible.cfg)": {},
               "pipelining off, ControlPersist on": {"ANSIBLE_PIPELINING": "False"},
               "pipelining on, ControlPersist off": {"ANSIBLE_SSH_ARGS": no_persist},
               "pipelining off, ControlPersist off": {"ANSIBLE_PIPELINING": "False", "ANSIBLE_SSH_ARGS": no_persist}}
    mitogen = mitogen_env()
    if mitogen:
        configs[f"Mitogen {MITOGEN} mitogen_linear"] = mitogen
    converge()
    samples = {c: [] for c in configs}
    failed = {}
    for round_no in range(args.rounds):
        for name in rotate(list(configs), round_no):
            if name in failed:
                continue
            try:
                samples[name].append(Run(site, env=configs[name]))
            except RunFailed as exc:  # Mitogen may not run this ansible-core: record why, keep the others
                failed[name] = exc.reason
        log(f"controller: round {round_no + 1}/{args.rounds}")
    base = median(samples[next(iter(configs))])
    out += [f"## Controller cost: no-op site.yml on {len(hosts.current_ports())} hosts, median of {args.rounds}", "",
            "| connection | wall | controller CPU | / ansible.cfg |", "|---|---|---|---|"]
    for name in configs:
        if name in failed or not samples[name]:
            out.append(f"| {name} | failed: {failed.get(name, 'no sample')} | | |")
            continue
        med = median(samples[name])
        out.append(f"| {name} | {med:.2f} s | {statistics.median(s.cost.controller for s in samples[name]):.1f} s "
                   f"| {ratio(med, base)} |")
    if not mitogen:
        out.append(f"| Mitogen {MITOGEN} | not installed (see the log) | | |")
    out.append("")


def read_rss(since):
    peaks = []
    for text in hosts.ssh_all("cat /var/tmp/bench-rss.log 2>/dev/null; true", check=False).values():
        for line in text.splitlines():
            stamp, kib = line.split()
            if float(stamp) >= since:
                peaks.append(int(kib))
    return max(peaks) / 1024 if peaks else float("nan")


def bench_memory(args, out):
    host, refs = hosts.names(1)[0], images.references()
    wrapper = {"ansible_python_interpreter": "/usr/local/bin/bench-rss-python"}
    cases = [("fleetops.docker.image_facts, 50 images", "facts_fleetops.yml", {"bench_images": images.FACTS_IMAGES}, False),
             ("fleetops.docker.image_facts remote=true, 50 images", "facts_fleetops.yml",
              {"bench_images": images.FACTS_IMAGES, "bench_remote": True}, False),
             ("community.docker.docker_image_info, 50 images", "facts_community.yml", {"bench_images": images.FACTS_IMAGES}, False),
             (f"fleetops.docker.image_pull, {len(refs)} images absent", "pull_fleetops.yml",
              {"bench_images": refs, "bench_concurrency": len(refs)}, True),
             (f"community.docker.docker_image_pull, {len(refs)} images absent (largest of the loop)", "pull_community.yml",
              {"bench_images": refs}, True)]
    out += ["## Memory: peak RSS of the module process on the target (VmHWM via getrusage)", "",
            "| module | peak RSS | ≤ 40 MB |", "|---|---|---|"]
    for label, playbook, extra, absent in cases:
        if absent:
            clean(refs)
        started = time.time()
        Run(PLAYBOOKS / playbook, {**extra, **wrapper}, limit=host)
        peak = read_rss(started)
        out.append(f"| {label} | {peak:.1f} MB | {'met' if peak <= 40 else 'MISSED'} |")
    out.append("")


def image_stage(run):
    return sum(s for name, s in run.profile if name.startswith("fleetops.docker.docker_images :"))


def bench_scale(args, out):
    rows = []
    for count in args.scale:
        hosts.up(count, BENCH_VARS, fresh=True)
        first = Run(ROOT / "playbooks" / "site.yml", profile=True)
        noops = [Run(ROOT / "playbooks" / "site.yml", profile=True) for _ in range(args.scale_rounds)]
        noop = sorted(noops, key=lambda r: r.wall)[len(noops) // 2]
        rows.append((count, first, noop))
        log(f"scale: {count} hosts: converge {first.wall:.0f} s, no-op {noop.wall:.0f} s")
    out += [f"## Fleet scaling: site.yml, forks 50 (ansible.cfg), no-op median of {args.scale_rounds}", "",
            "| hosts | converge | image stage | no-op | no-op image stage |", "|---|---|---|---|---|"]
    for count, first, noop in rows:
        out.append(f"| {count} | {first.wall:.1f} s | {image_stage(first):.1f} s | {noop.wall:.1f} s | {image_stage(noop):.1f} s |")
    out += ["", "Where the converge's time went (the machine has 2 cores; CPU from /proc/stat, containers' cpuacct):", "",
            f"| hosts | {hosts.Cost.HEADER} |", "|---" * hosts.Cost.COLUMNS + "|"]
    out += [f"| {count} | {first.cost.row()} |" for count, first, _ in rows]
    out += ["", "The no-op runs:", "", f"| hosts | {hosts.Cost.HEADER} |", "|---" * hosts.Cost.COLUMNS + "|"]
    out += [f"| {count} | {noop.cost.row()} |" for count, _, noop in rows]
    if len(rows) > 1 and rows[0][0] == 1:
        one, last = rows[0], rows[-1]
        out += ["", *target_table([
            (f"no-op: {last[0]} hosts ≤ 2.5 × 1 host", ratio(last[2].wall, one[2].wall), last[2].wall <= 2.5 * one[2].wall),
            (f"image stage (converge): {last[0]} hosts ≤ 2.5 × 1 host", ratio(image_stage(last[1]), image_stage(one[1])),
             image_stage(last[1]) <= 2.5 * image_stage(one[1]))])]
    out.append("")


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    docker = hosts.fleet.docker("version", "-f", "{{.Server.Version}}").stdout.strip()
    ansible = subprocess.run([str(hosts.TOOLS / "ansible"), "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return (f"{os.cpu_count()} × {cpu}, {mem:.0f} GiB; {Path('/etc/debian_version').read_text().strip()} (Debian); "
            f"machine dockerd {docker}; hosts: Debian 12 systemd containers, docker.io 20.10 inside; {ansible}; "
            f"load average at start {os.getloadavg()[0]:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of: {', '.join(SECTIONS)}")
    parser.add_argument("--hosts", type=int, default=2, help="hosts for pull, pigz, noop, controller (default 2)")
    parser.add_argument("--scale", default="1,2,4,8", help="host counts of the scale section")
    parser.add_argument("--scale-rounds", type=int, default=3, help="no-op runs per host count in the scale section")
    parser.add_argument("--down", action="store_true", help="remove the bench hosts and exit")
    args = parser.parse_args()
    args.scale = [int(n) for n in args.scale.split(",")]
    sections = [s for s in args.only.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {SECTIONS}")
    if args.down:
        for name in hosts.names(hosts.MAX_HOSTS):
            hosts.remove(name)
        return
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = [f"# make bench, {started}", "", f"Machine: {machine()}", "",
           f"Command: `{' '.join(['bench/run.py', *sys.argv[1:]])}`", ""]
    hosts.fleet.ensure_engine()
    hosts.fleet.ensure_images(["bookworm"])
    fixtures = images.push_all(hosts.fleet.ensure_registry())
    out += ["| bench image | layers | compressed | unpacked |", "|---|---|---|---|"]
    out += [f"| {ref} | {f['layers']} | {f['packed'] / 1e6:.0f} MB | {f['unpacked'] / 1e6:.0f} MB |" for ref, f in fixtures.items()]
    out += [f"| {images.FACTS_IMAGES[0]} .. {images.FACTS_IMAGES[-1]} (facts) | 1 each | < 1 kB | < 1 MB |", ""]
    if set(sections) - {"scale"}:
        hosts.up(args.hosts, BENCH_VARS)
        converge()
        Run(PLAYBOOKS / "setup.yml")
    for section in sections:
        log(f"section {section}")
        globals()[f"bench_{section}"](args, out)
    report = "\n".join(out) + "\n"
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / time.strftime("%Y%m%d-%H%M%S.md")).write_text(report)
    print(report)


if __name__ == "__main__":
    try:
        main()
    except RunFailed as exc:
        sys.exit(str(exc))

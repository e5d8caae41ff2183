"""The bench's own hosts (bench-host1..8), its inventory, and what a run costs the machine.

Bench hosts are the fleet's bookworm host image (tests/fleet/fleet.py builds and caches it) started the fleet's way,
named bench-hostN, beside the fleet's fleet-host* so `make run` and the tests keep their hosts. The inventory
(.fleet/bench/inventory) reuses the local fleet's group_vars (registry stand-ins, daemon options) and adds the
bench's own in group_vars/docker_hosts.yml.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fleet"))
import fleet  # noqa: E402  tests/fleet/fleet.py

PREFIX = "bench-host"
MAX_HOSTS = 8
STATE = ROOT / ".fleet" / "bench"
INVENTORY = STATE / "inventory"
TOOLS = Path(sys.executable).parent  # the venv's bin


def names(count):
    return [f"{PREFIX}{i}" for i in range(1, count + 1)]


def up(count, bench_vars, fresh=False):
    """bench-host1..count running and reachable over SSH (fresh: recreated with empty /var/lib/docker); the hosts
    above `count` removed, so an idle host costs nothing. Returns {name: ssh port}."""
    fleet.ensure_engine()
    fleet.ensure_images(["bookworm"])
    key = fleet.ssh_key()
    authorized = fleet.STATE / "ssh" / "authorized_keys"
    wanted = names(count)
    for name in names(MAX_HOSTS):
        if name not in wanted or fresh:
            remove(name)
    for name in wanted:
        fleet.run_container(name, [*fleet.host_run_args("bookworm"), "-p", "127.0.0.1::22",
                                   "-v", f"{name}-docker:/var/lib/docker",
                                   "-v", f"{authorized}:/etc/ssh/authorized_keys/admin:ro"],
                            volumes=[f"{name}-docker"], files=[authorized], image=fleet.KINDS["bookworm"]["image"])
    ports = {name: fleet.published_port(name, 22) for name in wanted}
    for name, port in ports.items():
        fleet.wait_ssh(name, port, key)
    write_inventory(ports, key, bench_vars)
    return ports


def remove(name):
    if fleet.container_state(name) is not None:
        fleet.docker("rm", "-f", "-v", name)
    fleet.docker("volume", "rm", f"{name}-docker", check=False)


def write_inventory(ports, key, bench_vars):
    group_vars = INVENTORY / "group_vars"
    group_vars.mkdir(parents=True, exist_ok=True)
    shared = group_vars / "all.yml"
    if not shared.is_symlink():
        shared.symlink_to(ROOT / "inventory" / "local" / "group_vars" / "all.yml")
    (group_vars / "docker_hosts.yml").write_text("# Written by bench/run.py: the bench's settings.\n"
                                                 + json.dumps(bench_vars, indent=2) + "\n")
    hosts = {name: {"ansible_host": "127.0.0.1", "ansible_port": port} for name, port in ports.items()}
    inventory = {"docker_hosts": {"hosts": hosts, "children": {"debian_bookworm": {"hosts": dict.fromkeys(hosts, {})}},
                                  "vars": {"ansible_user": "admin", "ansible_ssh_private_key_file": str(key)}}}
    (INVENTORY / "hosts.yml").write_text("# Written by bench/run.py: the bench hosts.\n" + json.dumps(inventory, indent=2)
                                         + "\n")


def current_ports():
    inventory = json.loads((INVENTORY / "hosts.yml").read_text().split("\n", 1)[1])
    return {name: host["ansible_port"] for name, host in inventory["docker_hosts"]["hosts"].items()}


def ssh_args(port):
    key = fleet.STATE / "ssh" / "id_ed25519"
    return ["ssh", "-q", "-i", str(key), "-p", str(port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ControlMaster=no", "admin@127.0.0.1"]


def ssh_all(command, ports=None, check=True):
    """Run `command` (as root) on every bench host at once, one SSH connection each; returns {name: stdout}."""
    ports = ports or current_ports()
    procs = {name: subprocess.Popen([*ssh_args(port), "sudo -n sh -c " + _quote(command)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
             for name, port in ports.items()}
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate()
        if check and proc.returncode:
            sys.exit(f"{name}: {command!r} failed ({proc.returncode}): {stderr.strip() or stdout.strip()}")
        out[name] = stdout
    return out


def _quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def ansible_env(**extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_INVENTORY=str(INVENTORY),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"), ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
               ANSIBLE_CACHE_PLUGIN_CONNECTION=str(STATE / "facts"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_NOCOLOR="1", PATH=f"{TOOLS}:{os.environ['PATH']}")
    env.update(extra)
    return env


# ---------------------------------------------------------------- what a run costs
def _cpu_ticks():
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]), idle, fields[4]


def _cgroup_cpu_ns(container_ids):
    total = 0
    for cid in container_ids:
        try:
            total += int(Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage").read_text())
        except (OSError, ValueError):
            pass  # cgroup v2 or a container gone: counted as 0, the machine totals still stand
    return total


def _container_ids(prefixes):
    out = fleet.docker("ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}").stdout.split("\n")
    return [line.split()[0] for line in out if line and line.split()[1].startswith(prefixes)]


def _rx_bytes():
    total = 0
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        name, data = line.split(":", 1)
        if name.strip() not in ("lo",) and not name.strip().startswith(("veth", "docker", "br-")):
            total += int(data.split()[0])
    return total


class Cost:
    """Wall time, and where the CPU went, of one timed command: the machine's busy share of its cores (/proc/stat,
    sampled every 0.5 s), the controller (ansible-playbook, ssh and their children: getrusage), the bench hosts
    and the registry (their containers' cpuacct cgroups), and what came from outside (non-local interfaces)."""

    def __init__(self):
        self.hosts = _container_ids((PREFIX,))
        self.registry = _container_ids((fleet.REGISTRY,))
        self.samples, self._stop = [], threading.Event()

    def __enter__(self):
        self.start = time.monotonic()
        self.ticks0, self.rx0 = _cpu_ticks(), _rx_bytes()
        self.hosts0, self.reg0 = _cgroup_cpu_ns(self.hosts), _cgroup_cpu_ns(self.registry)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.ctl0 = usage.ru_utime + usage.ru_stime
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        last = _cpu_ticks()
        while not self._stop.wait(0.5):
            now = _cpu_ticks()
            total, idle = now[0] - last[0], now[1] - last[1]
            if total:
                self.samples.append(1 - idle / total)
            last = now

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.start
        self._stop.set()
        self._thread.join()
        ticks = _cpu_ticks()
        total = ticks[0] - self.ticks0[0]
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        hz = os.sysconf("SC_CLK_TCK")
        self.busy = 1 - (ticks[1] - self.ticks0[1]) / total if total else 0.0
        self.iowait = (ticks[2] - self.ticks0[2]) / total if total else 0.0
        self.saturated = sum(s >= 0.9 for s in self.samples) / len(self.samples) if self.samples else 0.0
        self.cpu_seconds = total / hz
        self.controller = usage.ru_utime + usage.ru_stime - self.ctl0
        self.host_cpu = (_cgroup_cpu_ns(self.hosts) - self.hosts0) / 1e9
        self.registry_cpu = (_cgroup_cpu_ns(self.registry) - self.reg0) / 1e9
        self.rx_mb = (_rx_bytes() - self.rx0) / 1e6
        return False

    def row(self):
        ours = (self.controller + self.host_cpu + self.registry_cpu) / self.cpu_seconds if self.cpu_seconds else 0.0
        return (f"{self.wall:.1f} s | {self.busy:.0%} | {self.saturated:.0%} | {self.iowait:.0%} | {ours:.0%} "
                f"| {self.controller:.1f} s | {self.host_cpu:.1f} s | {self.registry_cpu:.1f} s | {self.rx_mb:.0f} MB")

    HEADER = (f"wall | CPU busy ({os.cpu_count()} cores) | samples ≥ 90 % busy | iowait | the bench's share of the cores "
              "| controller CPU | bench hosts CPU | registry CPU | from outside")
    COLUMNS = 10

"""The fault tests' own pieces of the local fleet: two hosts, a registry that can be stopped, ansible runs.

Everything created here carries the prefix `flt` (containers, volumes); the shared fleetops-registry is only read.
Hosts come from the fleet's cached host images (tests/fleet/fleet.py) and are reached over SSH like `make run`'s.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fleet"))

FAULTS = []  # (test, fault) for each fault injected, counted in the session summary
SECRETS_FOUND = []  # (where, secret name) for each leak, counted in the session summary
SECRETS_CHECKED = []  # the places the secrets test read

import fixtures  # noqa: E402  (tests/fleet)
import fleet  # noqa: E402

STATE = fleet.STATE / "faults"
REGISTRY = "flt-registry"
REGISTRY_ALIAS = "flaky.fleet.test"
REGISTRY_VOLUME = "flt-registry-data"
RATE = 1_500_000  # answer bytes per second per connection: a 6 MB layer takes 4 s
BIG_LAYER = 6_000_000
HOSTS = {"flt-bookworm1": "bookworm", "flt-trixie1": "trixie"}
# flaky.fleet.test/flt/<name>:latest -> seed of its one layer (None: a tiny layer)
IMAGES = {"present": None, "small": None, "big-a": 1, "big-b": 2, "big-c": 3, "big-d": 4, "big-e": 5}


def flaky(name):
    return f"{REGISTRY_ALIAS}/flt/{name}:latest"


def docker(*args, check=True, timeout=120):
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode:
        raise RuntimeError(f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def on_host(host, script, check=True, timeout=120):
    """Run a shell script as root on a test host (through docker exec: the fault tests' side channel)."""
    return docker("exec", host, "sh", "-c", script, check=check, timeout=timeout)


# ---------------------------------------------------------------- the registry that can be stopped
def start_registry():
    fleet.ensure_network()
    files = [HERE / "registry.yml", HERE / "throttle.py"]
    fleet.run_container(REGISTRY, ["--network-alias", REGISTRY_ALIAS, "-p", "127.0.0.1::80",
                                   "-v", f"{REGISTRY_VOLUME}:/var/lib/docker-registry", "-v", f"{HERE}:/flt:ro"],
                        ["/bin/sleep", "infinity"], volumes=[REGISTRY_VOLUME], files=files)
    registry_up()
    url = registry_url()
    registry = fixtures.Registry(url)
    for name, seed in IMAGES.items():
        files = ({"flt/data": random.Random(seed).randbytes(BIG_LAYER)} if seed
                 else {"flt/name": f"fault-test fixture {name}\n"})
        fixtures.push_image(registry, f"flt/{name}", fixtures.PLATFORMS["amd64"], [fixtures.tar_layer(files)],
                            ["latest"])
    return url


def registry_url():
    return f"http://127.0.0.1:{fleet.published_port(REGISTRY, 80)}"


def registry_up():
    """Start docker-registry and the throttling proxy in front of it (both end with registry_down)."""
    running = docker("exec", REGISTRY, "sh", "-c", "test -s /run/flt-throttle.pid && kill -0 $(cat /run/flt-throttle.pid)",
                     check=False)
    if running.returncode == 0:
        return
    docker("exec", "-d", REGISTRY, "sh", "-c",
           "echo $$ >/run/flt-registry.pid; exec /usr/bin/docker-registry serve /flt/registry.yml")
    docker("exec", "-d", REGISTRY, "sh", "-c",
           f"echo $$ >/run/flt-throttle.pid; exec python3 /flt/throttle.py 80 127.0.0.1:5000 {RATE} "
           "/run/flt-throttle.bytes")
    fleet.wait_http(registry_url() + "/v2/", 30)


def registry_down():
    """Kill the registry and its proxy (SIGKILL): open connections break, new ones are refused."""
    docker("exec", REGISTRY, "sh", "-c",
           "for f in /run/flt-throttle.pid /run/flt-registry.pid; do "
           "[ -s $f ] && kill -KILL $(cat $f); rm -f $f; done; true")


def bytes_served():
    out = docker("exec", REGISTRY, "cat", "/run/flt-throttle.bytes", check=False).stdout.strip()
    return int(out or 0)


def wait_until(predicate, seconds, what, interval=0.2):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(interval)


def wait_for_download(amount=1_000_000, seconds=90, run=None):
    """Wait until the registry has sent `amount` more answer bytes: a big layer is on its way."""
    start = bytes_served()

    def under_way():
        if run is not None and run.poll() is not None:
            raise AssertionError(f"ansible-playbook ended (rc={run.returncode}) before the download started:\n"
                                 + run.communicate()[0][-3000:])
        return bytes_served() - start >= amount

    wait_until(under_way, seconds, f"{amount} bytes from {REGISTRY}")


# ---------------------------------------------------------------- hosts
def start_hosts():
    """Fresh hosts (a previous session's are replaced) and the inventory that reaches them."""
    for leftover in ("logs", "facts", "reports"):  # what the secrets test greps comes from this session only
        shutil.rmtree(STATE / leftover, ignore_errors=True)
    key = fleet.ssh_key()
    keys = fleet.STATE / "ssh" / "authorized_keys"
    for name, kind in HOSTS.items():
        if not os.environ.get("FLT_REUSE"):  # FLT_REUSE=1: keep the hosts of the last session (debugging)
            docker("rm", "-f", "-v", name, check=False)
            docker("volume", "rm", f"{name}-docker", check=False)
        fleet.run_container(name, [*fleet.host_run_args(kind), "-p", "127.0.0.1::22",
                                   "-v", f"{name}-docker:/var/lib/docker",
                                   "-v", f"{keys}:/etc/ssh/authorized_keys/admin:ro"],
                            volumes=[f"{name}-docker"], files=[keys], image=fleet.KINDS[kind]["image"])
    ports = {name: fleet.published_port(name, 22) for name in HOSTS}
    for name, port in ports.items():
        fleet.wait_ssh(name, port, key)
    return write_inventory(ports, key)


def remove_hosts():
    for name in HOSTS:
        docker("rm", "-f", "-v", name, check=False)
        docker("volume", "rm", f"{name}-docker", check=False)


def remove_registry():
    docker("rm", "-f", "-v", REGISTRY, check=False)
    docker("volume", "rm", REGISTRY_VOLUME, check=False)


def write_inventory(ports, key):
    local = yaml.safe_load((ROOT / "inventory" / "local" / "group_vars" / "all.yml").read_text())
    options = dict(local["docker_engine_daemon_options"])
    options["insecure-registries"] = [*options["insecure-registries"], REGISTRY_ALIAS]
    options["max-download-attempts"] = 1  # dockerd's own layer retries would stretch each fault by 50 s
    inventory = {"flt_hosts": {
        "hosts": {name: {"ansible_host": "127.0.0.1", "ansible_port": port} for name, port in ports.items()},
        "vars": {
            "ansible_user": "admin", "ansible_ssh_private_key_file": str(key), "ansible_become": True,
            "ansible_ssh_common_args": local["ansible_ssh_common_args"],
            "docker_engine_daemon_options": options, "docker_users": ["admin"],
            "docker_images_required": [flaky("present")],
            "docker_images_assert_compatible": False,
            "docker_images_retries": 2, "docker_images_retry_delay": 1,
            "fleet_report_dir": str(STATE / "reports"),
        }}}
    STATE.mkdir(parents=True, exist_ok=True)
    path = STATE / "inventory.yml"
    path.write_text(json.dumps(inventory, indent=2) + "\n")
    return path


# ---------------------------------------------------------------- ansible
def env(**extra):
    environ = dict(os.environ)
    environ.update({
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_INVENTORY": str(STATE / "inventory.yml"),
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(STATE / "facts"),
        "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{ROOT / '.venv' / 'bin'}:{environ.get('PATH', '')}",
    })
    environ.update(extra)
    return environ


def playbook_args(playbook, host, extra_vars=None, args=()):
    path = playbook if Path(playbook).is_absolute() else ROOT / playbook
    return ["ansible-playbook", str(path), "-l", host, "-e", f"fleet_hosts={host}",
            "-e", json.dumps(extra_vars or {}), *args]


def start(playbook, host, extra_vars=None, args=(), json_out=True):
    """ansible-playbook in its own process group (so a fault can kill all of it); stdout+stderr in one pipe."""
    extra = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"} if json_out else {}
    proc = subprocess.Popen(playbook_args(playbook, host, extra_vars, args), cwd=ROOT, env=env(**extra),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    proc.started = time.monotonic()
    return proc


class Run:
    """A finished ansible-playbook: rc, output and (JSON callback) the results per task name."""

    def __init__(self, rc, out, json_out=True):
        self.rc, self.out = rc, out
        self.doc = json.loads(out[out.index("{"):]) if json_out and "{" in out else None

    def entry(self, action, host):
        """The (last) task entry that ran module `action` (e.g. fleetops.docker.image_pull) on host."""
        found = [entry for play in self.doc["plays"] for entry in play["tasks"]
                 if entry["hosts"].get(host, {}).get("action") == action]
        if not found:
            raise AssertionError(f"no {action} result on {host}:\n{self.out[-3000:]}")
        return found[-1]

    def result(self, action, host):
        return self.entry(action, host)["hosts"][host]

    def seconds(self, action, host):
        """(start, end) of that task as POSIX timestamps."""
        duration = self.entry(action, host)["task"]["duration"]
        return tuple(datetime.fromisoformat(duration[key].replace("Z", "+00:00")).timestamp()
                     for key in ("start", "end"))

    def failures(self):
        """(task, host, result) of every failed task: for assertion messages."""
        return [(entry["task"]["name"], host, result) for play in (self.doc or {}).get("plays", [])
                for entry in play["tasks"] for host, result in entry["hosts"].items() if result.get("failed")]

    def changed(self, host):
        return self.doc["stats"][host]["changed"]


def save_log(proc, out):
    """Each run's output in .fleet/faults/logs/ (for the failures the assertions only summarize)."""
    logs = STATE / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    number = len(list(logs.glob("*.log"))) + 1
    seconds = time.monotonic() - proc.started
    (logs / f"{number:02d}.log").write_text(f"# {' '.join(proc.args)}\n# rc={proc.returncode} after {seconds:.0f} s\n"
                                            + out)


def finish(proc, timeout=600, json_out=True):
    out, _ = proc.communicate(timeout=timeout)
    save_log(proc, out)
    return Run(proc.returncode, out, json_out)


def play(playbook, host, extra_vars=None, args=(), json_out=True, timeout=600):
    return finish(start(playbook, host, extra_vars, args, json_out), timeout, json_out)


def kill(proc, sig=signal.SIGKILL, grace=30):
    """Signal the whole ansible-playbook process group (workers and ssh clients too), as a cancelled CI job is."""
    os.killpg(proc.pid, sig)
    try:
        out, _ = proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    save_log(proc, out)
    return proc.returncode, out

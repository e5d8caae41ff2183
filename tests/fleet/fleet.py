#!/usr/bin/env python3
"""The local test fleet: Docker engine, systemd host image, registry stand-in, SSH-reachable hosts.

One piece of code for `make run`, Molecule (`make molecule` calls `prepare` first) and the benchmarks.

    fleet.py engine            make sure a Docker engine answers on this machine
    fleet.py image             build (or reuse) the systemd host image of every kind in KINDS
    fleet.py registry          start the registry stand-in and push the fixture images
    fleet.py prepare           engine + images + registry (what Molecule needs)
    fleet.py up [--hosts SPEC] prepare, then SSH-reachable hosts and inventory/local/hosts.yml;
                               SPEC is "N" (N bookworm hosts) or "bookworm=2,trixie=1" (default: FLEET_HOSTS)
    fleet.py down [--all]      remove the hosts (--all: the registry and network too)
    fleet.py status            what is running
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import fixtures  # tests/fleet/fixtures.py, beside this script

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STATE = Path(os.environ.get("FLEET_STATE_DIR", ROOT / ".fleet"))
SPEC = json.loads((HERE / "host_spec.json").read_text())

# Kinds of test host: each is one cached image, built by BUILDERS[builder] from its recipe. `image` is the
# repository (`:<recipe hash>` and `:latest` tags), `prefix` names its hosts, `group` is its inventory group.
KINDS = {
    "bookworm": {"builder": "debian", "suite": "bookworm", "arch": "amd64", "image": "fleetops/host",
                 "prefix": "fleet-host", "group": "debian_bookworm"},
    "trixie": {"builder": "debian", "suite": "trixie", "arch": "amd64", "image": "fleetops/host-trixie",
               "prefix": "fleet-trixie", "group": "debian_trixie"},
}
DEFAULT_HOSTS = "bookworm=2"
HOST_IMAGE = KINDS["bookworm"]["image"]  # also runs the registries (Debian's docker-registry is in it)
NETWORK = SPEC["network"]
REGISTRY = "fleetops-registry"
PRIVATE_REGISTRY = "fleetops-registry-private"
LABEL = "fleetops.fleet=1"
DOCKERD_LOG = Path("/var/log/fleetops-dockerd.log")
DEBIAN_MIRROR = os.environ.get("FLEET_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBIAN_SECURITY_MIRROR = os.environ.get("FLEET_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")


def log(msg):
    print(f"[fleet] {msg}", flush=True)


def die(msg):
    print(f"[fleet] ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def sh(*args, check=True, capture=True, **kwargs):
    proc = subprocess.run(args, check=False, text=True, capture_output=capture, **kwargs)
    if check and proc.returncode != 0:
        die(f"{' '.join(args)} failed ({proc.returncode}): {(proc.stderr or proc.stdout or '').strip()}")
    return proc


def docker(*args, check=True, **kwargs):
    return sh("docker", *args, check=check, **kwargs)


# ---------------------------------------------------------------- engine
def engine_answers():
    return shutil.which("docker") and docker("info", check=False).returncode == 0


def ensure_engine():
    if engine_answers():
        return
    if os.geteuid() != 0 or not Path("/etc/debian_version").exists():
        die("no Docker engine answers `docker info`. Start one, or run as root on Debian so the fleet can "
            "install docker.io and start dockerd itself.")
    if not shutil.which("dockerd"):
        log("installing Debian's docker.io")
        apt_install("docker.io")
    pidfile = Path("/var/run/docker.pid")
    if pidfile.exists() and not Path(f"/proc/{pidfile.read_text().strip() or 0}").exists():
        log("removing a stale dockerd pid file")
        pidfile.unlink()
    log(f"starting dockerd (log: {DOCKERD_LOG})")
    with open(DOCKERD_LOG, "ab") as out:
        subprocess.Popen(["dockerd"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    for _ in range(60):
        if engine_answers():
            return
        time.sleep(1)
    die(f"dockerd did not answer within 60 s; see {DOCKERD_LOG}")


def apt_install(*packages):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    fixtures.apt_update(env)
    sh("apt-get", "install", "-y", "-q", *packages, env=env)


# ---------------------------------------------------------------- host images
def recipe_hash(kind):
    spec = KINDS[kind]
    digest = hashlib.sha256(json.dumps([spec, DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR], sort_keys=True).encode())
    recipe = HERE / "image" / spec["builder"]
    for path in sorted(p for p in recipe.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(recipe)).encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def image_exists(ref):
    return docker("image", "inspect", ref, check=False).returncode == 0


def ensure_images(kinds):
    """Build the missing host images side by side (each build is mostly waiting on the archive or on qemu)."""
    import concurrent.futures

    kinds = list(dict.fromkeys(["bookworm", *kinds]))  # bookworm runs the registries
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(kinds)) as pool:
        for kind, tag in zip(kinds, pool.map(ensure_image, kinds)):
            docker("tag", tag, f"{KINDS[kind]['image']}:latest")


def ensure_image(kind):
    tag = f"{KINDS[kind]['image']}:{recipe_hash(kind)}"
    if image_exists(tag):
        log(f"host image {tag} is cached")
    else:
        if not shutil.which("debootstrap"):
            apt_install("debootstrap")
        started = time.monotonic()
        BUILDERS[KINDS[kind]["builder"]](kind, tag, STATE / f"rootfs-{kind}")
        log(f"built {tag} in {time.monotonic() - started:.0f} s")
    return tag


def build_debian(kind, tag, rootfs):
    spec = KINDS[kind]
    recipe = HERE / "image" / "debian"
    packages = [line.strip() for line in (recipe / "packages.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    if rootfs.exists():
        shutil.rmtree(rootfs)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    log(f"building {tag} with debootstrap {spec['suite']} (about a minute)")
    sh("debootstrap", "--variant=minbase", f"--arch={spec['arch']}", f"--include={','.join(packages)}",
       spec["suite"], str(rootfs), DEBIAN_MIRROR)
    shutil.copy(recipe / "setup.sh", rootfs / "tmp" / "setup.sh")
    sh("chroot", str(rootfs), "/bin/sh", "/tmp/setup.sh", DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR, spec["suite"])
    (rootfs / "tmp" / "setup.sh").unlink()
    import_rootfs(rootfs, tag, ['CMD ["/sbin/init"]', "ENV container=docker"])


def import_rootfs(rootfs, tag, changes):
    """`docker import` a root filesystem (then remove it), labelled with its recipe hash."""
    changes = [*changes, f"LABEL fleetops.recipe={tag.split(':')[1]}"]
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
    args = ["docker", "import"] + [arg for change in changes for arg in ("--change", change)] + ["-", tag]
    imported = subprocess.Popen(args, stdin=tar.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tar.stdout.close()  # docker import owns the pipe now; tar gets SIGPIPE if it quits early
    _, err = imported.communicate()
    if imported.wait() != 0 or tar.wait() != 0:
        die(f"docker import failed: {err.strip()}")
    shutil.rmtree(rootfs)


BUILDERS = {"debian": build_debian}


# ---------------------------------------------------------------- containers
def container_state(name):
    proc = docker("inspect", "-f", "{{.State.Running}}", name, check=False)
    return None if proc.returncode else proc.stdout.strip() == "true"


def ensure_network():
    if docker("network", "inspect", NETWORK, check=False).returncode:
        docker("network", "create", "--label", LABEL, NETWORK)


def run_container(name, args, command=(), volumes=(), files=(), image=HOST_IMAGE):
    """Start `name`, reusing a running one made the same way; replace a stopped leftover or a changed one.

    "The same way": same image, arguments, command and content of the mounted `files` (a label records it).
    `volumes` are the container's own named volumes: a replaced container starts without the old one's data."""
    image_id = docker("image", "inspect", "-f", "{{.Id}}", f"{image}:latest").stdout.strip()
    recipe = hashlib.sha256(json.dumps([image_id, args, list(command)]).encode())
    for path in files:
        recipe.update(Path(path).read_bytes())
    spec = recipe.hexdigest()[:16]
    running = container_state(name)
    if running is not None:
        current = docker("inspect", "-f", '{{index .Config.Labels "fleetops.spec"}}', name).stdout.strip()
        if running and current == spec:
            return False
        log(f"replacing {'changed' if running else 'stopped'} container {name}")
        docker("rm", "-f", "-v", name)
        for volume in volumes:
            docker("volume", "rm", volume, check=False)
    if running is None:
        log(f"starting {name}")
    docker("run", "-d", "--name", name, "--hostname", name, "--label", LABEL, "--label", f"fleetops.spec={spec}",
           "--network", NETWORK, *args, f"{image}:latest", *command)
    return True


def host_run_args(kind="bookworm"):
    caps = [arg for cap in SPEC["capabilities"] for arg in ("--cap-add", cap)]
    opts = [arg for opt in SPEC["security_opts"] for arg in ("--security-opt", opt)]
    tmpfs = [arg for path in SPEC["tmpfs"] for arg in ("--tmpfs", path)]
    return ["--cap-drop", "ALL", *caps, *opts, *tmpfs, "--cgroupns", SPEC["cgroupns_mode"],
            "--stop-signal", SPEC["stop_signal"],
            "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw"]


def published_port(name, port):
    out = docker("port", name, f"{port}/tcp").stdout.strip().splitlines()
    return int(out[0].rsplit(":", 1)[1])


# ---------------------------------------------------------------- registry
# The private registry's test-only account (the password is no secret: it guards fixtures on a private network).
PRIVATE_USER, PRIVATE_PASSWORD = "fleet", "fleet-test-password"


def start_registry(name, aliases, config, volume, extra=(), files=()):
    args = [arg for alias in aliases for arg in ("--network-alias", alias)]
    started = run_container(name, [*args, "-p", "127.0.0.1::80", "-v", f"{volume}:/var/lib/docker-registry",
                                   "-v", f"{config}:/etc/docker/registry/config.yml:ro", *extra],
                            ["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"],
                            files=[config, *files])
    url = f"http://127.0.0.1:{published_port(name, 80)}"
    wait_http(url + "/v2/", 30, ok_statuses=(200, 401))
    if started:
        log(f"{name} answers at {url} (aliases: {', '.join(aliases)})")
    return url


def htpasswd():
    """A bcrypt htpasswd line for the private registry's test account."""
    import bcrypt  # comes with paramiko in requirements.txt

    path = STATE / "registry" / "htpasswd"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        hashed = bcrypt.hashpw(PRIVATE_PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
        path.write_text(f"{PRIVATE_USER}:{hashed}\n")
    return path


def ensure_registry():
    ensure_network()
    url = start_registry(REGISTRY, SPEC["registry_aliases"], HERE / "registry" / "config.yml",
                         "fleetops-registry-data")
    accounts = htpasswd()
    private_url = start_registry(PRIVATE_REGISTRY, [SPEC["private_registry_alias"]],
                                 HERE / "registry" / "private.yml", "fleetops-registry-private-data",
                                 ["-v", f"{accounts}:/etc/docker/registry/htpasswd:ro"], [accounts])
    digests = fixtures.push_all(url, STATE / "cache")
    digests.update(fixtures.push_private(private_url, (PRIVATE_USER, PRIVATE_PASSWORD)))
    (STATE / "fixtures.json").write_text(json.dumps(digests, indent=2) + "\n")
    return url


def wait_http(url, seconds, ok_statuses=(200,)):
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError as exc:
            if exc.code in ok_statuses:
                return
            if time.monotonic() > deadline:
                die(f"{url} answered {exc.code} within {seconds} s")
            time.sleep(0.5)
        except OSError as exc:
            if time.monotonic() > deadline:
                die(f"{url} did not answer within {seconds} s: {exc}")
            time.sleep(0.5)


# ---------------------------------------------------------------- hosts
def ssh_key():
    key = STATE / "ssh" / "id_ed25519"
    if not shutil.which("ssh-keygen") or not shutil.which("ssh"):
        apt_install("openssh-client")
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleetops-local-fleet", "-f", str(key))
    authorized = STATE / "ssh" / "authorized_keys"
    authorized.write_text(key.with_suffix(".pub").read_text())
    authorized.chmod(0o644)
    return key


def parse_hosts(spec):
    """ "3" -> {"bookworm": 3}; "bookworm=2,trixie=1" -> {"bookworm": 2, "trixie": 1}."""
    if spec.strip().isdigit():
        return {"bookworm": int(spec)}
    counts = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, _, count = part.partition("=")
        if kind not in KINDS or not count.strip().isdigit():
            die(f"--hosts {spec!r}: expected N or KIND=N,... with KIND one of {', '.join(KINDS)}")
        counts[kind] = int(count)
    return counts


def host_names(counts):
    return {f"{KINDS[kind]['prefix']}{i}": kind for kind, count in counts.items() for i in range(1, count + 1)}


def ensure_hosts(counts):
    key = ssh_key()
    names = host_names(counts)
    for name, kind in names.items():
        run_container(name, [*host_run_args(kind), "-p", "127.0.0.1::22",
                             "-v", f"{name}-docker:/var/lib/docker",
                             "-v", f"{STATE / 'ssh' / 'authorized_keys'}:/etc/ssh/authorized_keys/admin:ro"],
                      volumes=[f"{name}-docker"], files=[STATE / "ssh" / "authorized_keys"],
                      image=KINDS[kind]["image"])
    for name in set(fleet_hosts()) - set(names):  # hosts a larger or other SPEC made earlier
        log(f"removing {name} (not in --hosts)")
        docker("rm", "-f", "-v", name)
        docker("volume", "rm", f"{name}-docker", check=False)
    hosts = {name: {"ansible_host": "127.0.0.1", "ansible_port": published_port(name, 22)} for name in names}
    for name, host in hosts.items():
        wait_ssh(name, host["ansible_port"], key)
    write_inventory(hosts, names, key)
    return hosts


def fleet_hosts():
    names = docker("ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}").stdout.split()
    prefixes = tuple(spec["prefix"] for spec in KINDS.values())
    return [name for name in names if name.startswith(prefixes)]


def wait_ssh(name, port, key, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        proc = sh("ssh", "-q", "-i", str(key), "-p", str(port), "-o", "BatchMode=yes",
                  "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3",
                  "admin@127.0.0.1", "sudo -n systemctl is-system-running --wait >/dev/null; true", check=False)
        if proc.returncode == 0:
            return
        if time.monotonic() > deadline:
            die(f"{name} is not reachable over SSH on 127.0.0.1:{port}: {proc.stderr.strip()}")
        time.sleep(1)


def write_inventory(hosts, kinds, key):
    groups = {}
    for name, kind in kinds.items():
        groups.setdefault(KINDS[kind]["group"], {"hosts": {}})["hosts"][name] = {}
    inventory = {"docker_hosts": {"hosts": hosts,
                                  "children": groups,
                                  "vars": {"ansible_user": "admin",
                                           "ansible_ssh_private_key_file": str(key)}}}
    path = ROOT / "inventory" / "local" / "hosts.yml"
    path.write_text("# Written by tests/fleet/fleet.py up: the local test fleet.\n" + json.dumps(inventory, indent=2)
                    + "\n")
    ports = ", ".join(f"{name}=127.0.0.1:{host['ansible_port']}" for name, host in hosts.items())
    log(f"inventory: {path} ({ports})")


def remove_hosts(everything):
    names = docker("ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}").stdout.split()
    hosts = set(fleet_hosts())
    for name in names:
        if everything or name in hosts:
            docker("rm", "-f", "-v", name)
            docker("volume", "rm", f"{name}-docker", check=False)
    if everything:
        docker("volume", "rm", "fleetops-registry-data", "fleetops-registry-private-data", check=False)
        docker("network", "rm", NETWORK, check=False)
    (ROOT / "inventory" / "local" / "hosts.yml").unlink(missing_ok=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["engine", "image", "registry", "prepare", "up", "down", "status"])
    parser.add_argument("--hosts", default=os.environ.get("FLEET_HOSTS", DEFAULT_HOSTS))
    parser.add_argument("--kinds", default=os.environ.get("FLEET_KINDS", ",".join(KINDS)),
                        help="image/prepare: the host kinds whose images to build (default: all)")
    parser.add_argument("--all", action="store_true", help="down: also the registry, its data and the network")
    args = parser.parse_args()
    STATE.mkdir(parents=True, exist_ok=True)
    if args.command == "down":
        if engine_answers():
            remove_hosts(args.all)
        return
    ensure_engine()
    if args.command == "status":
        print(docker("ps", "-a", "--filter", f"label={LABEL}").stdout)
        return
    counts = parse_hosts(args.hosts)
    if args.command in ("image", "prepare", "up", "registry"):
        kinds = [k for k in args.kinds.split(",") if k] if args.command != "up" else list(counts)
        unknown = set(kinds) - set(KINDS)
        if unknown:
            die(f"unknown host kind(s) {', '.join(sorted(unknown))}; known: {', '.join(KINDS)}")
        ensure_images(kinds)
    if args.command in ("registry", "prepare", "up"):
        ensure_registry()
    if args.command == "up":
        ensure_hosts(counts)


if __name__ == "__main__":
    main()

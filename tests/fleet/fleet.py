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
    fleet.py binfmt [on|off]   the machine-wide qemu-aarch64 handler the emulated arm64 host needs (`up` and
                               `prepare` register it; while it is, arm64 binaries also run on the amd64 hosts)
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import fixtures  # tests/fleet/fixtures.py, beside this script
import rpmrepo  # tests/fleet/rpmrepo.py

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
    # Emulated by qemu-user through binfmt_misc (an x86_64 kernel), not Graviton hardware: see README.
    "arm64": {"builder": "arm64", "recipes": ["debian", "arm64"], "suite": "bookworm", "arch": "arm64",
              "platform": "linux/arm64", "image": "fleetops/host-arm64", "prefix": "fleet-arm64",
              "group": "debian_arm64"},
    # Real dnf 4.14 and rpm 4.18 on a Debian userland with AL2023's os-release, not Amazon Linux: see README.
    # `rpm_repo`: its hosts install from the RPM repository stand-in (rpmrepo.py), served as rpm.fleet.test.
    "al2023": {"builder": "rpm", "recipes": ["debian", "rpm"], "suite": "bookworm", "arch": "amd64",
               "image": "fleetops/host-al2023", "prefix": "fleet-al2023", "group": "amazon_al2023_standin",
               "rpm_repo": True},
}
DEFAULT_HOSTS = "bookworm=2,trixie=1,arm64=1"
HOST_IMAGE = KINDS["bookworm"]["image"]  # also runs the registries (Debian's docker-registry is in it)
NETWORK = SPEC["network"]
REGISTRY = "fleetops-registry"
PRIVATE_REGISTRY = "fleetops-registry-private"
RPM_REPO = "fleetops-rpm-repo"
RPM_REPO_ALIAS = "rpm.fleet.test"
LABEL = "fleetops.fleet=1"
DOCKERD_LOG = Path("/var/log/fleetops-dockerd.log")
DEBIAN_MIRROR = os.environ.get("FLEET_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBIAN_SECURITY_MIRROR = os.environ.get("FLEET_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
DEBOOTSTRAP_ATTEMPTS = 3


def last_line(proc):
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


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
    for name in spec.get("recipes", [spec["builder"]]):
        recipe = HERE / "image" / name
        for path in sorted(p for p in recipe.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(recipe)).encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def image_exists(ref):
    return docker("image", "inspect", ref, check=False).returncode == 0


def ensure_images(kinds):
    """Build the missing host images side by side (each build is mostly waiting on the archive or on qemu)."""
    import concurrent.futures

    kinds = list(dict.fromkeys(["bookworm", *kinds]))  # bookworm runs the registries
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(kinds) + 1) as pool:
        repo = pool.submit(rpm_repo_dir) if needs_rpm_repo(kinds) else None
        for kind, tag in zip(kinds, pool.map(ensure_image, kinds), strict=True):
            docker("tag", tag, f"{KINDS[kind]['image']}:latest")
        if repo:
            repo.result()


def ensure_image(kind):
    tag = f"{KINDS[kind]['image']}:{recipe_hash(kind)}"
    if KINDS[kind]["arch"] == "arm64":  # to build it and to run it
        binfmt(True)
    with build_lock(kind):  # one build per kind on this machine; a second `fleet.py` waits, then reuses it
        if image_exists(tag):
            log(f"host image {tag} is cached")
            return tag
        if not shutil.which("debootstrap"):
            apt_install("debootstrap")
        started = time.monotonic()
        BUILDERS[KINDS[kind]["builder"]](kind, tag, STATE / f"rootfs-{kind}")
        log(f"built {tag} in {time.monotonic() - started:.0f} s")
    return tag


@contextlib.contextmanager
def build_lock(kind):
    import fcntl

    path = STATE / "locks" / f"build-{kind}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another fleet.py that is building the {kind} host image")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build_debian(kind, tag, rootfs):
    debootstrap(kind, rootfs)
    import_rootfs(rootfs, tag, ['CMD ["/sbin/init"]', "ENV container=docker"])


def debootstrap(kind, rootfs):
    """A Debian root filesystem of the kind's suite and architecture, made a test host by debian/setup.sh."""
    spec = KINDS[kind]
    recipe = HERE / "image" / "debian"
    packages = [line.strip() for line in (recipe / "packages.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    if rootfs.exists():
        shutil.rmtree(rootfs)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    log(f"building the {kind} host image: debootstrap {spec['suite']} {spec['arch']}"
        + (" (about a minute)" if spec["arch"] == "amd64" else " through qemu (about 7 minutes)"))
    args = ["debootstrap", "--variant=minbase", f"--arch={spec['arch']}", f"--include={','.join(packages)}",
            spec["suite"], str(rootfs), DEBIAN_MIRROR]
    for attempt in range(1, DEBOOTSTRAP_ATTEMPTS + 1):  # its wget does not retry: one DNS hiccup fails a build
        proc = sh(*args, check=attempt == DEBOOTSTRAP_ATTEMPTS)
        if proc.returncode == 0:
            break
        log(f"debootstrap {spec['suite']} {spec['arch']} failed ({last_line(proc)}); attempt {attempt + 1} "
            f"of {DEBOOTSTRAP_ATTEMPTS} in 10 s")
        shutil.rmtree(rootfs)
        time.sleep(10)
    shutil.copy(recipe / "setup.sh", rootfs / "tmp" / "setup.sh")
    sh("chroot", str(rootfs), "/bin/sh", "/tmp/setup.sh", DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR, spec["suite"])
    (rootfs / "tmp" / "setup.sh").unlink()


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


def build_arm64(kind, tag, rootfs):
    """The Debian host for arm64 through qemu-user (about 7 minutes), then arm64/setup.sh's emulation fixes."""
    debootstrap(kind, rootfs)
    shutil.copy(HERE / "image" / "arm64" / "setup.sh", rootfs / "tmp" / "setup-arm64.sh")
    sh("mount", "-t", "proc", "proc", str(rootfs / "proc"))
    try:
        sh("chroot", str(rootfs), "/bin/sh", "/tmp/setup-arm64.sh")
    finally:
        sh("umount", str(rootfs / "proc"), check=False)
    (rootfs / "tmp" / "setup-arm64.sh").unlink()
    load_rootfs(rootfs, tag, fixtures.PLATFORMS[KINDS[kind]["arch"]])


def load_rootfs(rootfs, tag, platform):
    """`docker load` a root filesystem as a one-layer image of `platform` (then remove it).

    dockerd 20.10 ignores `docker import --platform` and stamps the image with its own architecture, and
    `run --platform` then looks for the image on Docker Hub: a `docker load` archive carries the config we write."""
    import tarfile

    layer = rootfs.parent / f"{rootfs.name}.tar"
    sh("tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(layer), ".")
    digest = hashlib.sha256()
    with open(layer, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    config = json.dumps({
        **platform, "created": fixtures.CREATED,
        "config": {"Cmd": ["/sbin/init"], "Env": ["container=docker"], "StopSignal": SPEC["stop_signal"],
                   "Labels": {"fleetops.recipe": tag.split(":")[1]}},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest.hexdigest()}"]},
        "history": [{"created": fixtures.CREATED, "created_by": "tests/fleet/fleet.py load_rootfs"}],
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": ["rootfs/layer.tar"]}]).encode()
    loading = subprocess.Popen(["docker", "load", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    with tarfile.open(fileobj=loading.stdin, mode="w|") as archive:
        for name, data in ((config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        archive.add(str(layer), "rootfs/layer.tar")
    loading.stdin.close()  # `docker load -q` says little, so its pipes cannot fill up before this
    out, err = loading.stdout.read(), loading.stderr.read()
    if loading.wait():
        die(f"docker load failed: {err.decode().strip() or out.decode().strip()}")
    layer.unlink()
    shutil.rmtree(rootfs)


# binfmt_misc handler that runs arm64 binaries through qemu-user-static, machine-wide. Flags OPFC: C so setuid
# programs (sudo) work, F so it works inside containers, P so argv[0] survives (dockerd's re-exec needs it).
BINFMT = Path("/proc/sys/fs/binfmt_misc")
BINFMT_NAME = "fleetops-aarch64"
QEMU_AARCH64_CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")


def binfmt(register):
    """Register (install qemu-user-static, mount binfmt_misc if needed) or remove our aarch64 handler."""
    entry = BINFMT / BINFMT_NAME
    if not register:
        if entry.exists():
            entry.write_text("-1")
            log(f"binfmt: {BINFMT_NAME} removed")
        return
    if entry.exists() and entry.read_text().startswith("enabled") and binfmt_flags(entry) == set("OPFC"):
        return
    if os.geteuid() != 0:
        die("the arm64 host needs qemu-aarch64 registered in binfmt_misc with flags OPFC; run the fleet as root once")
    if not (BINFMT / "register").exists():
        sh("mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT))
    if not QEMU_AARCH64_CONF.exists():
        apt_install("qemu-user-static")
    if entry.exists():
        entry.write_text("-1")
    fields = QEMU_AARCH64_CONF.read_text().strip().split(":")
    fields[1], fields[-1] = BINFMT_NAME, "OPFC"
    (BINFMT / "register").write_text(":".join(fields))
    log(f"binfmt: {BINFMT_NAME} registered (arm64 binaries run through qemu-user on this machine)")


def binfmt_flags(entry):
    return {flag for line in entry.read_text().splitlines() if line.startswith("flags:") for flag in line[6:].strip()}


def aarch64_handlers():
    """Enabled binfmt_misc entries that run aarch64 ELF binaries (ours or the system's)."""
    found = []
    for entry in BINFMT.glob("*"):
        if entry.name in ("register", "status"):
            continue
        text = entry.read_text()
        if text.startswith("enabled") and "magic 7f454c460201010000000000000000000200b700" in text:
            found.append(entry.name)
    return sorted(found)


def build_rpm(kind, tag, rootfs):
    """The AL2023 stand-in: the Debian host, then rpm/setup.sh adds real dnf and rpm and Amazon's os-release."""
    debootstrap(kind, rootfs)
    shutil.copytree(HERE / "image" / "rpm", rootfs / "tmp" / "recipe")
    sh("mount", "-t", "proc", "proc", str(rootfs / "proc"))
    try:
        sh("chroot", str(rootfs), "/bin/sh", "/tmp/recipe/setup.sh")
    finally:
        sh("umount", str(rootfs / "proc"), check=False)
    shutil.rmtree(rootfs / "tmp" / "recipe")
    import_rootfs(rootfs, tag, ['CMD ["/sbin/init"]', "ENV container=docker"])


# ---------------------------------------------------------------- RPM repository stand-in
def needs_rpm_repo(kinds):
    return any(KINDS[kind].get("rpm_repo") for kind in kinds)


def rpm_repo_dir():
    """The built repository (rpmbuild + createrepo_c), cached under the hash of its recipe."""
    path = STATE / "rpm-repo" / rpmrepo.recipe_hash(DEBIAN_MIRROR)
    if (path / "CARRIES.json").exists():
        log(f"RPM repository {path.name} is cached")
        return path
    missing = rpmrepo.missing_tools()
    if missing:
        apt_install(*missing)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    fixtures.apt_update(env)
    try:
        rpmrepo.build(path, env)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        die(f"building the RPM repository failed: {exc}")
    log(f"built RPM repository {path.name} in {time.monotonic() - started:.0f} s")
    return path


def ensure_rpm_repo():
    """Serve the repository over HTTP on the fleet network as rpm.fleet.test (tests may stop their own copy)."""
    ensure_network()
    started = run_container(RPM_REPO, ["--network-alias", RPM_REPO_ALIAS, "-p", "127.0.0.1::80",
                                       "-v", f"{rpm_repo_dir()}:/srv/repo:ro"],
                            ["python3", "-m", "http.server", "80", "--directory", "/srv/repo"])
    url = f"http://127.0.0.1:{published_port(RPM_REPO, 80)}"
    wait_http(url + "/amazonlinux/repodata/repomd.xml", 30)
    if started:
        log(f"{RPM_REPO} answers at {url} (alias: {RPM_REPO_ALIAS})")
    return url


BUILDERS = {"debian": build_debian, "arm64": build_arm64, "rpm": build_rpm}


# ---------------------------------------------------------------- containers
def container_state(name):
    proc = docker("inspect", "-f", "{{.State.Running}}", name, check=False)
    return None if proc.returncode else proc.stdout.strip() == "true"


def ensure_network():
    if docker("network", "inspect", NETWORK, check=False).returncode:
        docker("network", "create", "--label", LABEL, NETWORK)


def run_container(name, args, command=(), volumes=(), files=(), image=HOST_IMAGE):
    """Start `name`, reusing a running one made the same way; replace a stopped leftover or a changed one.

    "The same way": same image, arguments, command, content of the mounted `files` and the same host paths
    bind-mounted (device and inode: a directory deleted and made again, as by a fresh clone, is another one that
    the running container cannot see). A label records it.
    `volumes` are the container's own named volumes: a replaced container starts without the old one's data."""
    image_id = docker("image", "inspect", "-f", "{{.Id}}", f"{image}:latest").stdout.strip()
    sources = [arg.split(":", 1)[0] for flag, arg in zip(args, args[1:], strict=False) if flag == "-v" and arg.startswith("/")]
    mounted = [[os.stat(path).st_dev, os.stat(path).st_ino] for path in sources]
    recipe = hashlib.sha256(json.dumps([image_id, args, list(command), mounted]).encode())
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
    platform = ["--platform", KINDS[kind]["platform"]] if KINDS[kind].get("platform") else []
    return ["--cap-drop", "ALL", *caps, *opts, *tmpfs, "--cgroupns", SPEC["cgroupns_mode"],
            "--stop-signal", SPEC["stop_signal"], *platform,
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
    """fleet-host1, fleet-host2, ...; a prefix that ends in a digit gets a dash: fleet-arm64-1."""
    names = {}
    for kind, count in counts.items():
        prefix = KINDS[kind]["prefix"] + ("-" if KINDS[kind]["prefix"][-1].isdigit() else "")
        names.update({f"{prefix}{i}": kind for i in range(1, count + 1)})
    return names


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
        wait_ssh(name, host["ansible_port"], key, 60 if KINDS[names[name]]["arch"] == "amd64" else 240)  # qemu boots slowly
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
    parser.add_argument("command", choices=["engine", "image", "registry", "prepare", "up", "down", "status",
                                            "binfmt"])
    parser.add_argument("state", nargs="?", choices=["on", "off", "status"], default="status",
                        help="binfmt: register (on) or remove (off) the aarch64 handler the arm64 host needs")
    parser.add_argument("--hosts", default=os.environ.get("FLEET_HOSTS", DEFAULT_HOSTS))
    parser.add_argument("--kinds", default=os.environ.get("FLEET_KINDS", ",".join(KINDS)),
                        help="image/prepare: the host kinds whose images to build (default: all)")
    parser.add_argument("--all", action="store_true", help="down: also the registry, its data and the network")
    args = parser.parse_args()
    STATE.mkdir(parents=True, exist_ok=True)
    if args.command == "binfmt":
        if args.state != "status":
            binfmt(args.state == "on")
        print("aarch64 handlers registered: " + (", ".join(aarch64_handlers()) or "none"))
        return
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
        if needs_rpm_repo(kinds):
            ensure_rpm_repo()
    if args.command == "up":
        ensure_hosts(counts)


if __name__ == "__main__":
    main()

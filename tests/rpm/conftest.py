"""Real dnf 4.14 faults on an AL2023 stand-in host: its own repository server (which the tests stop) and host.

Everything created here carries the prefix `rpm-faults` (containers). The host image and the built repository come
from the fleet's caches (tests/fleet/fleet.py, rpmrepo.py); the shared fleetops-rpm-repo is left alone.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fleet"))

import fleet  # noqa: E402  (tests/fleet)

REPO = "rpm-faults-repo"
REPO_ALIAS = "rpm-faults.fleet.test"
HOST = "rpm-faults-host"
DEBIAN_HOST = "rpm-faults-bookworm"
ENV = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
           ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", LC_ALL="C.UTF-8")


def docker(*args, check=True, timeout=300):
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode:
        raise RuntimeError(f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def sh(host, script, check=True, timeout=300):
    """Run a shell script as root on a test host (docker exec: the tests' side channel)."""
    return docker("exec", host, "bash", "-c", script, check=check, timeout=timeout)


def engine(host, check_mode=False, **args):
    """Run fleetops.docker.engine on `host` through ansible (docker connection); the module's result."""
    argv = [str(ROOT / ".venv" / "bin" / "ansible"), "all", "-i", f"{host},", "-c", "community.docker.docker",
            "-m", "fleetops.docker.engine", "-a", json.dumps(args)] + (["--check"] if check_mode else [])
    proc = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=600)
    doc = json.loads(proc.stdout)
    return doc["plays"][0]["tasks"][0]["hosts"][host]


def repo_up():
    docker("start", REPO)
    fleet.wait_http(f"http://127.0.0.1:{fleet.published_port(REPO, 80)}/amazonlinux/repodata/repomd.xml", 30)


def repo_down():
    docker("stop", "-t", "1", REPO)


def start_host(name, image):
    docker("rm", "-f", "-v", name, check=False)
    docker("run", "-d", "--name", name, "--hostname", name, "--network", fleet.NETWORK, *fleet.host_run_args(),
           "-v", "/var/lib/docker", f"{image}:latest")
    for _ in range(60):
        state = docker("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        subprocess.run(["sleep", "1"], check=True)
    raise RuntimeError(f"{name} did not boot: {state}")


@pytest.fixture(scope="session")
def standin():
    """The AL2023 stand-in host, its repository pointing at this session's own server."""
    fleet.ensure_engine()
    fleet.ensure_images(["al2023"])
    fleet.ensure_network()
    fleet.run_container(REPO, ["--network-alias", REPO_ALIAS, "-p", "127.0.0.1::80",
                               "-v", f"{fleet.rpm_repo_dir()}:/srv/repo:ro"],
                        ["python3", "-m", "http.server", "80", "--directory", "/srv/repo"])
    repo_up()
    start_host(HOST, fleet.KINDS["al2023"]["image"])
    sh(HOST, f"sed -i 's/rpm.fleet.test/{REPO_ALIAS}/' /etc/yum.repos.d/amazonlinux.repo")
    yield HOST
    docker("rm", "-f", "-v", HOST, check=False)
    docker("rm", "-f", REPO, check=False)


@pytest.fixture(scope="session")
def bookworm():
    """A Debian 12 host (real apt) for apt-mark hold."""
    fleet.ensure_images(["bookworm"])
    start_host(DEBIAN_HOST, fleet.KINDS["bookworm"]["image"])
    yield DEBIAN_HOST
    docker("rm", "-f", "-v", DEBIAN_HOST, check=False)

"""docker_engine role guards on a real throwaway host container (tests/security/role_guards.yml).

The container runs the fleet's host image (built by `fleet.py prepare`) with python3; Ansible reaches it
through the docker connection, so no SSH or systemd is needed."""
import os
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "fleetops/host:latest"


@pytest.fixture
def host():
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        pytest.fail(f"{IMAGE} is missing: run `tests/fleet/fleet.py prepare` first")
    name = f"sec-guards-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--entrypoint", "sleep", IMAGE, "infinity"],
                   check=True, capture_output=True)
    yield name
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_role_refuses_symlinked_docker_dir_unknown_users_and_shell_in_interpreter(host):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
               ANSIBLE_FORCE_COLOR="0")
    run = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", f"{host},", "-c", "community.docker.docker",
                          "-e", "ansible_python_interpreter=/usr/bin/python3", str(ROOT / "tests" / "security" / "role_guards.yml")],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "failed=0" in run.stdout

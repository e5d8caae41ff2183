"""One site.yml run through ansible-runner's Python API (what AWX drives) against the local fleet plus one host
that cannot be reached; the runner and report tests read its events and artefacts."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "build" / "test-artifacts"

# Port 9 (discard) on loopback: nothing listens, so SSH is refused at once and Ansible marks the host unreachable.
GHOST = "fr-ghost"
GHOST_INVENTORY = f"""docker_hosts:
  hosts:
    {GHOST}:
      ansible_host: 127.0.0.1
      ansible_port: 9
      ansible_user: admin
"""


# The fleet's natively running hosts: the emulated arm64 host (qemu-user) takes about ten minutes for a first
# install, which the arm64 scenario pays once; these runs leave it out.
PATTERN = "docker_hosts:!debian_arm64"


@pytest.fixture(scope="session")
def fleet_hosts():
    """The local fleet (tests/fleet/fleet.py up: default FLEET_HOSTS): the names of the hosts PATTERN selects."""
    subprocess.run([str(BIN / "python"), str(ROOT / "tests" / "fleet" / "fleet.py"), "up"], check=True)
    import yaml

    inventory = yaml.safe_load((ROOT / "inventory" / "local" / "hosts.yml").read_text())["docker_hosts"]
    emulated = set(inventory.get("children", {}).get("debian_arm64", {}).get("hosts", {}))
    return [name for name in inventory["hosts"] if name not in emulated]


@pytest.fixture(scope="session")
def site_run(fleet_hosts, tmp_path_factory):
    import ansible_runner

    data = tmp_path_factory.mktemp("runner")
    (data / "ghost.yml").write_text(GHOST_INVENTORY)
    reports = data / "reports"
    env = {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
           "ANSIBLE_ROLES_PATH": str(ROOT / "roles"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FACT_CACHING_CONNECTION": str(data / "facts"), "PATH": f"{BIN}:{os.environ['PATH']}"}
    runner = ansible_runner.run(private_data_dir=str(data), project_dir=str(ROOT),
                                playbook=str(ROOT / "playbooks" / "site.yml"),
                                inventory=[str(ROOT / "inventory" / "local"), str(data / "ghost.yml")],
                                envvars=env, quiet=True,
                                # Pull images a host cannot run anyway (dockerd's own behaviour), so that the
                                # report has NO cells to show.
                                extravars={"fleet_report_dir": str(reports), "docker_images_platform_guard": "off",
                                           "fleet_hosts": PATTERN})
    events = list(runner.events)
    return {"runner": runner, "events": events, "reports": reports, "hosts": fleet_hosts, "ghost": GHOST}

"""execution-environment.yml: `ansible-builder create` writes a build context that carries the collection tarball
(with its roles), the pinned ansible-core / ansible-runner / boto3 of requirements.txt, and amazon.aws."""
from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLL = ROOT / "collections" / "ansible_collections" / "fleetops" / "docker"


def pins():
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^]]*\])?==(\S+)", line.strip())
        if match:
            found[match.group(1).lower()] = match.group(3)
    return found


def test_ansible_builder_create_writes_the_context(tmp_path):
    version = yaml.safe_load((COLL / "galaxy.yml").read_text())["version"]
    tarball = ROOT / "build" / f"fleetops-docker-{version}.tar.gz"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", str(COLL), "--output-path",
                    str(ROOT / "build"), "--force"], check=True, capture_output=True, text=True)
    context = tmp_path / "context"
    proc = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "-c",
                           str(context), "--output-filename", "Containerfile"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    containerfile = (context / "Containerfile").read_text()
    assert re.search(r"(?m)^ARG EE_BASE_IMAGE=\"?quay.io/centos/centos:stream9", containerfile), containerfile
    pinned = pins()
    assert f"ansible-core=={pinned['ansible-core']}" in containerfile
    assert f"ansible-runner=={pinned['ansible-runner']}" in containerfile
    assert "COPY _build/fleetops/ /tmp/fleetops/" in containerfile
    assert "ansible-galaxy collection install" in containerfile

    # The tarball in the context is the one just built, with the roles inside it.
    shipped = context / "_build" / "fleetops" / tarball.name
    assert shipped.read_bytes() == tarball.read_bytes(), f"{shipped} is not {tarball} (version {version})"
    with tarfile.open(shipped) as archive:
        names = set(archive.getnames())
    for role in ("docker_engine", "docker_images", "fleet_report"):
        assert f"roles/{role}/tasks/main.yml" in names
    assert "plugins/filter/fleet_report.py" in names

    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    collections = {c["name"]: c for c in galaxy["collections"]}
    assert collections[f"/tmp/fleetops/{tarball.name}"]["type"] == "file"
    assert "amazon.aws" in collections
    python = (context / "_build" / "requirements.txt").read_text().split()
    assert f"boto3=={pinned['boto3']}" in python
    assert "openssh-clients" in (context / "_build" / "bindep.txt").read_text()

"""The RPM repository stand-in: the AL2 removal table's stack exactly, what the README says each NEVRA carries, what it
serves."""
import gzip
import json
import re
import subprocess
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK = json.loads((ROOT / "tests" / "fleet" / "repo" / "rpm" / "stack.json").read_text())
NOTES = Path("/work/shared/seeds")  # the project's original notes, where the AL2 removal table comes from
NS = {"c": "http://linux.duke.edu/metadata/common", "r": "http://linux.duke.edu/metadata/repo"}


def nevras(repo):
    return sorted(f"{e['name']}-{e['version']}-{e['release']}.x86_64" for e in STACK["repos"][repo])


def test_the_al2_repositories_hold_the_al2_removal_table_exactly():
    """Rows of the AL2 "Removing:" table (name, arch, version-release, @repo) are the AL2 repositories' NEVRAs."""
    if NOTES.is_dir():
        notes_text = "\n".join(p.read_text() for p in sorted(NOTES.glob("*.txt")))
        rows = re.findall(r"^ (\S+)\s+(x86_64)\s+(\S+)\s+@(\S+)\s+[\d.]+ [kM]$", notes_text, re.M)
    else:  # the notes are not part of the repository: the table's rows, copied
        rows = [("containerd", "x86_64", "1.7.11-1.amzn2.0.1", "amzn2extra-docker"),
                ("docker", "x86_64", "20.10.25-1.amzn2.0.4", "amzn2extra-docker"),
                ("libcgroup", "x86_64", "0.41-21.amzn2", "amzn2-core"),
                ("pigz", "x86_64", "2.3.4-1.amzn2.0.1", "amzn2-core"),
                ("runc", "x86_64", "1.1.11-1.amzn2", "amzn2extra-docker")]
    assert len(rows) == 5
    for name, arch, version_release, repo in rows:
        assert f"{name}-{version_release}.{arch}" in nevras(repo), (name, repo)


def test_docker_requires_the_rest_of_the_stack_in_every_repository():
    for repo, entries in STACK["repos"].items():
        for entry in (e for e in entries if e["name"] == "docker"):
            assert sorted(r.split()[0] for r in entry["requires"]) == ["containerd", "libcgroup", "pigz", "runc"], repo


def test_the_readme_says_what_every_nevra_carries():
    readme = (ROOT / "README.md").read_text()
    for repo in STACK["repos"]:
        for nevra in nevras(repo):
            assert f"`{nevra}`" in readme, nevra


def test_the_served_repository_is_the_recipe():
    port = subprocess.run(["docker", "port", "fleetops-rpm-repo", "80/tcp"], capture_output=True, text=True)
    if port.returncode:
        pytest.fail("the RPM repository stand-in is not running: run `tests/fleet/fleet.py prepare` first")
    base = "http://" + port.stdout.splitlines()[0].strip()
    for repo in STACK["repos"]:
        with urllib.request.urlopen(f"{base}/{repo}/repodata/repomd.xml", timeout=10) as answer:
            repomd = ET.fromstring(answer.read())
        primary = repomd.find("r:data[@type='primary']/r:location", NS).get("href")
        with urllib.request.urlopen(f"{base}/{repo}/{primary}", timeout=10) as answer:
            packages = ET.fromstring(gzip.decompress(answer.read())).findall("c:package", NS)
        served = sorted("{}-{}-{}.{}".format(p.find("c:name", NS).text, p.find("c:version", NS).get("ver"),
                                              p.find("c:version", NS).get("rel"), p.find("c:arch", NS).text)
                        for p in packages)
        assert served == nevras(repo), repo

"""The local test fleet itself: specs agree, fixtures are reproducible, the registry serves canonical names.

The registry tests talk to the real registry stand-in; `make harness` runs `fleet.py prepare` first.
"""
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import fixtures
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = json.loads((ROOT / "tests" / "fleet" / "host_spec.json").read_text())
LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def molecule_platforms(scenario):
    return yaml.safe_load((ROOT / "molecule" / scenario / "molecule.yml").read_text())["platforms"]


SCENARIOS = sorted(path.parent.name for path in (ROOT / "molecule").glob("*/molecule.yml"))


@pytest.mark.parametrize("platform", [p for s in SCENARIOS for p in molecule_platforms(s)], ids=lambda p: p["name"])
def test_molecule_hosts_run_like_fleet_hosts(platform):
    import fleet

    kinds = {f"{spec['image']}:latest": spec for spec in fleet.KINDS.values()}
    if platform["image"] in kinds:  # a host of another architecture (emulated arm64) runs as that platform
        assert platform.get("platform") == kinds[platform["image"]].get("platform")
    assert platform["capabilities"] == SPEC["capabilities"]
    assert "SYS_RESOURCE" not in platform["capabilities"]
    assert platform["security_opts"] == SPEC["security_opts"]
    assert platform["tmpfs"] == SPEC["tmpfs"]
    assert platform["cgroupns_mode"] == SPEC["cgroupns_mode"]
    assert platform["stop_signal"] == SPEC["stop_signal"]
    assert "/sys/fs/cgroup:/sys/fs/cgroup:rw" in platform["volumes"]
    assert [n["name"] for n in platform["networks"]] == [SPEC["network"]]
    assert not platform.get("privileged")


def test_layers_are_reproducible():
    files = {"etc/a": "one\n", "bin/tool": b"\x7fELF"}
    first = fixtures.tar_layer(files, [("bin/sh", "tool")])
    second = fixtures.tar_layer(dict(reversed(list(files.items()))), [("bin/sh", "tool")])
    assert first == second
    assert first != fixtures.tar_layer(files)


def test_pinned_fixture_has_its_published_digest():
    repo, tag, files = fixtures.PINNED
    _, manifest = fixtures.image_manifest(fixtures.PLATFORMS["amd64"], [fixtures.tar_layer(files)])
    assert fixtures.manifest_digest(manifest) == fixtures.PINNED_DIGEST
    for path in ["inventory/local/group_vars/all.yml", "molecule/default/molecule.yml"]:
        assert fixtures.PINNED_DIGEST in (ROOT / path).read_text(), path


def registry_url():
    out = subprocess.run(["docker", "port", "fleetops-registry", "80/tcp"], capture_output=True, text=True)
    if out.returncode:
        pytest.fail("the registry stand-in is not running: run `tests/fleet/fleet.py prepare` first")
    return "http://" + out.stdout.splitlines()[0].strip()


def manifest(repo, ref, accept):
    req = urllib.request.Request(f"{registry_url()}/v2/{repo}/manifests/{ref}", headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Content-Type"], json.loads(resp.read())


def test_busybox_is_a_three_platform_index():
    media_type, index = manifest("library/busybox", "latest", LIST)
    assert media_type == LIST
    platforms = [m["platform"] for m in index["manifests"]]
    assert platforms == [{"architecture": "amd64", "os": "linux"},
                         {"architecture": "arm64", "os": "linux", "variant": "v8"},
                         {"architecture": "arm", "os": "linux", "variant": "v7"}]


def test_each_platform_carries_its_own_busybox_binary():
    _, index = manifest("library/busybox", "latest", LIST)
    layer_digests = {manifest("library/busybox", m["digest"], fixtures.MANIFEST)[1]["layers"][0]["digest"]
                     for m in index["manifests"]}
    assert len(layer_digests) == 3


def test_quay_stand_in_has_three_layers_and_arm64_only_has_one_platform():
    _, httpd = manifest("centos7/httpd-24-centos7", "latest", fixtures.MANIFEST)
    assert len(httpd["layers"]) == 3
    media_type, arm = manifest("fleetops/arm64-only", "latest", f"{LIST}, {fixtures.MANIFEST}")
    assert media_type == fixtures.MANIFEST
    config_digest = arm["config"]["digest"]
    with urllib.request.urlopen(f"{registry_url()}/v2/fleetops/arm64-only/blobs/{config_digest}") as resp:
        config = json.loads(resp.read())
    assert (config["os"], config["architecture"], config["variant"]) == ("linux", "arm64", "v8")


def test_pinned_digest_is_served():
    media_type, _ = manifest("fleetops/pinned", fixtures.PINNED_DIGEST, fixtures.MANIFEST)
    assert media_type == fixtures.MANIFEST


def fleet(*args):
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "fleet" / "fleet.py"), *args],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def test_prepare_again_reuses_everything():
    out = fleet("prepare")
    assert "is cached" in out
    assert "replacing" not in out and "building" not in out


def test_a_stopped_leftover_is_replaced_and_serves_again():
    subprocess.run(["docker", "stop", "fleetops-registry-private"], check=True, capture_output=True)
    out = fleet("prepare")
    assert "replacing stopped container fleetops-registry-private" in out
    port = subprocess.run(["docker", "port", "fleetops-registry-private", "80/tcp"], capture_output=True,
                          text=True, check=True).stdout.split(":")[-1].strip()
    with pytest.raises(urllib.error.HTTPError) as refused:  # it answers, and still wants a login
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/fleetops/private/tags/list", timeout=10)
    assert refused.value.code == 401


def test_the_fleet_registers_qemu_aarch64_for_the_arm64_host(tmp_path):
    """`fleet.py prepare` registers aarch64 with flags OPFC; while it is registered an arm64 binary runs on this
    amd64 machine (and on the amd64 hosts), so no test here can expect `exec format error` from one."""
    import fleet

    assert fleet.BINFMT_NAME in fleet.aarch64_handlers()
    assert fleet.binfmt_flags(fleet.BINFMT / fleet.BINFMT_NAME) == set("OPFC")
    busybox = tmp_path / "busybox"
    busybox.write_bytes((fleet.STATE / "cache" / "busybox-arm64").read_bytes())  # the arm64 fixtures' binary
    busybox.chmod(0o755)
    out = subprocess.run([str(busybox), "uname", "-m"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "aarch64"

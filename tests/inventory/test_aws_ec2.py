"""inventory/aws_ec2.yml against moto's EC2 server on loopback (a stand-in for the EC2 API, with real boto3 calls
and the real amazon.aws.aws_ec2 plugin): the groups and host variables the README documents.

moto_amis.json: SYNTHETIC AMI ids with Amazon's AL2/AL2023 naming, loaded through moto's MOTO_AMIS_PATH (moto's
register_image drops the architecture, and an instance takes its architecture from its AMI). moto does not return
PlatformDetails, so the platform_* groups are not asserted here (real EC2 fills them)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INVENTORY = ROOT / "inventory" / "aws_ec2.yml"
REGION = "eu-west-1"

# name -> (architecture, AMI family, extra tags)
FLEET = {
    "al2-x86": ("x86_64", "al2", {"Fleet": "docker", "Env": "prod"}),
    "al2-arm": ("arm64", "al2", {"Fleet": "docker", "Env": "prod"}),
    "al2023-x86": ("x86_64", "al2023", {"Fleet": "docker", "Env": "staging"}),
    "al2023-arm": ("arm64", "al2023", {"Fleet": "docker", "Env": "prod"}),
    "bastion": ("x86_64", "al2023", {}),  # not tagged Fleet=docker
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto():
    port = free_port()
    proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, MOTO_AMIS_PATH=str(Path(__file__).with_name("moto_amis.json"))))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not answer on {url}")
            time.sleep(0.2)
    env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION)
    env.pop("AWS_PROFILE", None)
    yield url, env
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def instances(moto):
    url, _ = moto
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=url, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    images = {}
    for image in ec2.describe_images(Owners=["137112412989"])["Images"]:
        family = "al2023" if image["Name"].startswith("al2023-") else "al2"
        images[image["Architecture"], family] = image["ImageId"]
    assert len(images) == 4, images
    made = {}
    for name, (arch, family, tags) in FLEET.items():
        tag_list = [{"Key": k, "Value": v} for k, v in {"Name": name, "AmiFamily": family, **tags}.items()]
        reply = ec2.run_instances(ImageId=images[arch, family], MinCount=1, MaxCount=1,
                                  InstanceType="m7g.large" if arch == "arm64" else "m7i.large",
                                  TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list}])
        made[name] = reply["Instances"][0]
    return made


def ansible_inventory(env, *args):
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(INVENTORY), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # amazon.aws 10 itself triggers a core deprecation ("disable_lookups"); any other warning is ours.
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("[WARNING]")
                and "Deprecation warnings can be disabled" not in line]
    assert not warnings, proc.stderr
    return proc.stdout


def hosts_of(listing, group):
    """Hosts of `group`, through its children too."""
    entry = listing.get(group, {})
    found = set(entry.get("hosts", []))
    for child in entry.get("children", []):
        found |= hosts_of(listing, child)
    return found


def test_groups_by_architecture_ami_family_and_tags(moto, instances):
    _, env = moto
    listing = json.loads(ansible_inventory(env, "--list"))
    dns = {name: inst["PrivateDnsName"] for name, inst in instances.items()}
    assert all(dns.values())
    by = lambda *names: {dns[n] for n in names}  # noqa: E731
    assert hosts_of(listing, "arch_x86_64") == by("al2-x86", "al2023-x86", "bastion")
    assert hosts_of(listing, "arch_arm64") == by("al2-arm", "al2023-arm")
    assert hosts_of(listing, "ami_al2") == hosts_of(listing, "al2_hosts") == by("al2-x86", "al2-arm")
    assert hosts_of(listing, "ami_al2023") == hosts_of(listing, "al2023_hosts") == by(
        "al2023-x86", "al2023-arm", "bastion")
    assert hosts_of(listing, "docker_hosts") == by("al2-x86", "al2-arm", "al2023-x86", "al2023-arm")
    assert hosts_of(listing, "tag_Env_prod") == by("al2-x86", "al2-arm", "al2023-arm")
    assert hosts_of(listing, "tag_Env_staging") == by("al2023-x86")


def plain(value):
    """ansible-inventory --list marks inventory-plugin strings as {"__ansible_unsafe": "..."}."""
    if isinstance(value, dict):
        return value["__ansible_unsafe"] if set(value) == {"__ansible_unsafe"} else {k: plain(v) for k, v in value.items()}
    return [plain(v) for v in value] if isinstance(value, list) else value


def test_host_variables_address_interpreter_and_family(moto, instances):
    _, env = moto
    hostvars = json.loads(ansible_inventory(env, "--list"))["_meta"]["hostvars"]
    for name, inst in instances.items():
        host = plain(hostvars[inst["PrivateDnsName"]])
        arch, family, _ = FLEET[name]
        assert host["ansible_host"] == inst["PrivateIpAddress"]
        assert host["ec2_architecture"] == arch
        assert host["ec2_ami_family"] == family
        assert host["ansible_python_interpreter"] == ("/usr/bin/python3.8" if family == "al2" else "auto_silent")
        assert host["ec2_tags"]["Name"] == name


def test_graph_shows_the_groups(moto, instances):
    _, env = moto
    graph = ansible_inventory(env, "--graph")
    for group in ("@docker_hosts:", "@arch_arm64:", "@arch_x86_64:", "@al2_hosts:", "@al2023_hosts:"):
        assert group in graph, graph
    assert instances["al2-arm"]["PrivateDnsName"] in graph

"""image_facts against a fake Engine API served over a real UNIX socket (see fake_docker_api.py)."""
from __future__ import annotations

import os

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import _platforms
from ansible_collections.fleetops.docker.plugins.modules import image_facts
from ansible_collections.fleetops.docker.tests.unit.plugins.fake_docker_api import (
    DOCKERD_SHAPES,
    FakeDockerAPI,
)

# os.uname() results as the targets report them (sysname, nodename, release, version, machine).
UNAME_AMD64 = ("Linux", "al2-host", "5.10.0", "#1 SMP", "x86_64")
UNAME_ARM64 = ("Linux", "graviton-host", "6.1.0", "#1 SMP", "aarch64")


@pytest.fixture(params=DOCKERD_SHAPES)
def docker_api(request):
    fake = FakeDockerAPI(shape=request.param).start()
    fake.registry("docker.io").push("library/busybox", "latest", ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"])
    fake.add_local_image("busybox:latest", "linux/amd64")
    fake.add_local_image("alpine:latest", "linux/amd64")
    fake.add_local_image("fleetops/arm64-only:latest", "linux/arm64/v8")
    fake.add_local_image("quay.io/centos7/httpd-24-centos7:latest", "linux/amd64")
    fake.add_local_image("fleetops/armhf-tool:1", "linux/arm/v7")
    yield fake
    fake.stop()


@pytest.fixture
def host(monkeypatch):
    def use(uname):
        monkeypatch.setattr(_platforms.os, "uname", lambda: uname)
    use(UNAME_AMD64)
    return use


def facts_args(docker_api, images, **extra):
    args = {"images": images, "docker_host": docker_api.docker_host}
    args.update(extra)
    return args


def test_reports_requested_images_and_the_host_verdict(run_module, docker_api, host):
    images = ["busybox", "alpine", "quay.io/centos7/httpd-24-centos7", "fleetops/arm64-only:latest", "ghost:1.0"]

    result = run_module(image_facts, facts_args(docker_api, images))

    assert result.rc == 0, result.get("msg")
    assert result["changed"] is False
    facts = result["ansible_facts"]["docker_images"]
    assert facts == result["images"]
    assert sorted(facts) == ["alpine:latest", "busybox:latest", "fleetops/arm64-only:latest", "ghost:1.0",
                             "quay.io/centos7/httpd-24-centos7:latest"]
    busybox = facts["busybox:latest"]
    assert busybox["present"] is True and busybox["compatible"] is True
    assert busybox["reference"] == "docker.io/library/busybox:latest"
    assert busybox["repo_tags"] == ["busybox:latest"]
    assert (busybox["os"], busybox["architecture"], busybox["platform"]) == ("linux", "amd64", "linux/amd64")
    arm = facts["fleetops/arm64-only:latest"]
    assert (arm["architecture"], arm["variant"], arm["platform"], arm["compatible"]) == ("arm64", "v8", "linux/arm64/v8", False)
    assert facts["ghost:1.0"]["present"] is False and facts["ghost:1.0"]["compatible"] is None
    verdict = result["ansible_facts"]["docker_images_host"]
    assert verdict == {"host_platform": "linux/amd64", "all_compatible": False,
                       "incompatible": ["fleetops/arm64-only:latest"], "missing": ["ghost:1.0"]}
    assert result["all_compatible"] is False


def test_fail_on_incompatible_names_each_image_and_its_platform(run_module, docker_api, host):
    result = run_module(image_facts, facts_args(docker_api, ["busybox", "fleetops/arm64-only:latest", "fleetops/armhf-tool:1"],
                                                fail_on_incompatible=True))

    assert result.rc == 1
    assert result["msg"] == ("Images that cannot run on this host (linux/amd64): fleetops/arm64-only:latest is "
                             "linux/arm64/v8, host is linux/amd64; fleetops/armhf-tool:1 is linux/arm/v7, host is linux/amd64")


def test_arm64_host_flags_amd64_images(run_module, docker_api, host):
    host(UNAME_ARM64)

    result = run_module(image_facts, facts_args(docker_api, ["busybox", "fleetops/arm64-only:latest", "fleetops/armhf-tool:1"]))

    assert result["host_platform"] == "linux/arm64/v8"
    assert result["incompatible"] == ["busybox:latest", "fleetops/armhf-tool:1"]
    assert result["images"]["fleetops/arm64-only:latest"]["compatible"] is True


def test_allow_32bit_accepts_arm_v7_on_arm64(run_module, docker_api, host):
    host(UNAME_ARM64)

    result = run_module(image_facts, facts_args(docker_api, ["fleetops/armhf-tool:1"], allow_32bit=True))

    assert result["all_compatible"] is True


def test_fail_on_incompatible_passes_when_everything_fits(run_module, docker_api, host):
    result = run_module(image_facts, facts_args(docker_api, ["busybox", "alpine"], fail_on_incompatible=True))

    assert result.rc == 0
    assert result["all_compatible"] is True


def test_remote_reports_registry_digest_and_platforms_without_pulling(run_module, docker_api, host):
    result = run_module(image_facts, facts_args(docker_api, ["busybox", "alpine"], remote=True))

    busybox = result["images"]["busybox:latest"]["remote"]
    assert busybox["digest"] == docker_api.registries["docker.io"].repos["library/busybox"]["latest"]["digest"]
    assert busybox["media_type"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    assert busybox["platforms"] == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    assert busybox["offers_host_platform"] is True
    alpine = result["images"]["alpine:latest"]["remote"]
    assert alpine["digest"] is None
    assert "repository does not exist" in alpine["error"]
    assert docker_api.calls("POST") == []


def test_remote_readiness_judges_each_offer_for_amd64_and_arm64(run_module, docker_api, host):
    docker_api.registry("quay.io").push("centos7/httpd-24-centos7", "latest", ["linux/amd64"])
    docker_api.registry("docker.io").push("fleetops/arm64-only", "latest", ["linux/arm64/v8"])
    docker_api.registry("docker.io").push("fleetops/armhf-tool", "1", ["linux/arm/v7"])
    images = ["busybox", "quay.io/centos7/httpd-24-centos7", "fleetops/arm64-only:latest", "fleetops/armhf-tool:1",
              "alpine"]

    result = run_module(image_facts, facts_args(docker_api, images, remote=True))
    with_32bit = run_module(image_facts, facts_args(docker_api, ["fleetops/armhf-tool:1"], remote=True, allow_32bit=True,
                                                    readiness_platforms=["aarch64"]))

    remote = {key: entry["remote"] for key, entry in result["images"].items()}
    assert remote["busybox:latest"]["architectures"] == ["amd64", "arm", "arm64"]
    assert remote["busybox:latest"]["runs_on"] == {"linux/amd64": True, "linux/arm64/v8": True}
    quay = remote["quay.io/centos7/httpd-24-centos7:latest"]
    assert quay["runs_on"] == {"linux/amd64": True, "linux/arm64/v8": False}
    assert remote["fleetops/arm64-only:latest"]["runs_on"] == {"linux/amd64": False, "linux/arm64/v8": True}
    assert remote["fleetops/armhf-tool:1"]["runs_on"] == {"linux/amd64": False, "linux/arm64/v8": False}
    assert remote["alpine:latest"]["runs_on"] == {}  # the registry did not answer: unknown, not "blocked"
    assert with_32bit["images"]["fleetops/armhf-tool:1"]["remote"]["runs_on"] == {"linux/arm64/v8": True}


def test_invalid_readiness_platform_fails_clearly(run_module, docker_api, host):
    result = run_module(image_facts, facts_args(docker_api, ["busybox"], remote=True, readiness_platforms=["linux/*"]))

    assert result.rc == 1
    assert result["msg"].startswith("readiness_platforms: Invalid platform 'linux/*'")
    assert docker_api.requests == []


def test_every_local_image_when_no_images_are_given(run_module, docker_api, host):
    result = run_module(image_facts, facts_args(docker_api, []))

    assert sorted(result["images"]) == ["alpine:latest", "busybox:latest", "fleetops/arm64-only:latest",
                                        "fleetops/armhf-tool:1", "quay.io/centos7/httpd-24-centos7:latest"]
    assert result["missing"] == []
    assert result["incompatible"] == ["fleetops/arm64-only:latest", "fleetops/armhf-tool:1"]


def test_check_mode_gives_the_same_facts(run_module, docker_api, host):
    normal = run_module(image_facts, facts_args(docker_api, ["busybox", "fleetops/arm64-only"]))
    checked = run_module(image_facts, facts_args(docker_api, ["busybox", "fleetops/arm64-only"]), check_mode=True)

    assert checked["images"] == normal["images"]
    assert checked["changed"] is False


def test_accepts_the_image_pull_item_format(run_module, docker_api, host):
    result = run_module(image_facts, facts_args(docker_api, [{"name": "busybox", "platform": "linux/amd64"}, "alpine"]))

    assert sorted(result["images"]) == ["alpine:latest", "busybox:latest"]
    assert result["images"]["busybox:latest"]["name"] == "busybox"


def test_invalid_reference_fails_before_any_api_call(run_module, docker_api, host):
    result = run_module(image_facts, facts_args(docker_api, ["Busybox"]))

    assert result.rc == 1
    assert "must be lowercase" in result["msg"]
    assert docker_api.requests == []


def test_daemon_not_running(run_module, tmp_path, host):
    result = run_module(image_facts, {"images": ["busybox"], "docker_host": "unix://" + os.path.join(str(tmp_path), "d.sock")})

    assert result.rc == 1
    assert "Docker daemon is not running" in result["msg"]


def test_check_mode_without_a_daemon_reports_images_missing(run_module, tmp_path, host):
    socket_path = "unix://" + os.path.join(str(tmp_path), "d.sock")

    result = run_module(image_facts, {"images": ["busybox"], "docker_host": socket_path}, check_mode=True)

    assert result.rc == 0
    assert result["missing"] == ["busybox:latest"]
    assert result["images"]["busybox:latest"]["present"] is False
    assert "check mode reports the requested images as missing" in result.warning_texts[0]


def test_timeout_below_one_second_fails_before_any_api_call(run_module, docker_api, host):
    result = run_module(image_facts, facts_args(docker_api, ["busybox"], timeout=0))

    assert result.rc == 1
    assert result["msg"] == "Invalid images or options: timeout must be 1 second or more, got 0"
    assert docker_api.requests == []


@pytest.mark.parametrize("item, expected", [
    ({"name": "busybox", "tag": "1"}, "images[1]: unknown keys tag (allowed: name, platform, pull)"),
    ({"name": "busybox", "pull": "never"}, "images[1]: pull must be one of missing, always, got 'never'"),
])
def test_dict_items_take_exactly_the_image_pull_keys(run_module, docker_api, host, item, expected):
    result = run_module(image_facts, facts_args(docker_api, [item]))

    assert result.rc == 1 and result["msg"] == "Invalid images or options: " + expected
    assert docker_api.requests == []


def test_documentation_says_what_dict_items_accept():
    text = " ".join(image_facts.DOCUMENTATION.split())
    assert "their other keys are ignored" not in text
    assert "C(name) (required), C(platform) and C(pull)" in text and "any other key is an error" in text

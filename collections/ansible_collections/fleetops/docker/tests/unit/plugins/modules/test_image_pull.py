"""image_pull against a fake Engine API served over a real UNIX socket (see fake_docker_api.py)."""
from __future__ import annotations

import json
import socket
import threading

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import _registry_auth
from ansible_collections.fleetops.docker.plugins.modules import image_pull
from ansible_collections.fleetops.docker.tests.unit.plugins.fake_docker_api import (
    DOCKERD_SHAPES,
    FakeDockerAPI,
)

BUSYBOX_PLATFORMS = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]


@pytest.fixture(params=DOCKERD_SHAPES)
def docker_api(request):
    fake = FakeDockerAPI(shape=request.param).start()
    hub = fake.registry("docker.io")
    hub.push("library/busybox", "latest", BUSYBOX_PLATFORMS)
    hub.push("library/alpine", "latest", ["linux/amd64", "linux/arm64/v8"])
    hub.push("fleetops/arm64-only", "latest", ["linux/arm64/v8"])
    fake.registry("quay.io").push("centos7/httpd-24-centos7", "latest", ["linux/amd64"])
    yield fake
    fake.stop()


def pull_args(docker_api, images, **extra):
    args = {"images": images, "docker_host": docker_api.docker_host, "retry_delay": 0}
    args.update(extra)
    return args


def by_name(result):
    return {image["familiar"]: image for image in result["images"]}


def test_pulls_the_required_images_concurrently_in_one_task(run_module, docker_api):
    docker_api.pull_barrier = threading.Barrier(3, timeout=10)  # all three pulls must be in flight together
    images = ["busybox", "alpine", "quay.io/centos7/httpd-24-centos7"]

    result = run_module(image_pull, pull_args(docker_api, images, concurrency=3))

    assert result.rc == 0, result.get("msg")
    assert result["changed"] is True
    assert result["summary"] == {"total": 3, "pulled": 3, "unchanged": 0, "would_pull": 0, "skipped": 0, "failed": 0}
    pulled = by_name(result)
    assert pulled["busybox:latest"]["reference"] == "docker.io/library/busybox:latest"
    assert pulled["busybox:latest"]["name"] == "busybox"
    assert pulled["busybox:latest"]["platform"] == "linux/amd64"
    assert pulled["quay.io/centos7/httpd-24-centos7:latest"]["id"].startswith("sha256:")
    creates = sorted(call[2]["fromImage"] for call in docker_api.calls("POST", "/images/create"))
    assert creates == ["docker.io/library/alpine", "docker.io/library/busybox", "quay.io/centos7/httpd-24-centos7"]
    assert docker_api.local("busybox:latest")["Id"] == pulled["busybox:latest"]["id"]


def test_second_run_is_unchanged_and_does_not_touch_the_registry(run_module, docker_api):
    first = run_module(image_pull, pull_args(docker_api, ["busybox", "alpine"]))
    docker_api.requests.clear()

    second = run_module(image_pull, pull_args(docker_api, ["busybox", "alpine"]))

    assert first["changed"] is True
    assert second["changed"] is False
    assert second["summary"]["unchanged"] == 2
    assert docker_api.calls("POST", "/images/create") == []
    assert docker_api.calls("GET", "/distribution/") == []
    assert [i["id"] for i in second["images"]] == [i["id"] for i in first["images"]]


def test_check_mode_predicts_and_pulls_nothing(run_module, docker_api):
    docker_api.add_local_image("alpine:latest", digest=docker_api.registries["docker.io"].repos["library/alpine"]["latest"]["digest"])

    result = run_module(image_pull, pull_args(docker_api, ["busybox", "alpine"], pull="always"), check_mode=True, diff=True)

    assert result.rc == 0, result.get("msg")
    assert result["changed"] is True
    images = by_name(result)
    assert images["busybox:latest"]["action"] == "would_pull"
    assert images["busybox:latest"]["remote_digest"] == docker_api.registries["docker.io"].repos["library/busybox"]["latest"]["digest"]
    assert images["alpine:latest"]["action"] == "unchanged"
    assert result["summary"]["would_pull"] == 1
    assert result["diff"]["before"]["busybox:latest"] == "absent"
    assert result["diff"]["after"]["busybox:latest"] == "(would pull)"
    assert docker_api.calls("POST") == []
    assert docker_api.local("busybox:latest") is None


def test_check_mode_reports_a_new_remote_digest_for_pull_always(run_module, docker_api):
    run_module(image_pull, pull_args(docker_api, ["busybox"]))
    docker_api.registries["docker.io"].push("library/busybox", "latest", BUSYBOX_PLATFORMS, revision="2")

    result = run_module(image_pull, pull_args(docker_api, ["busybox"], pull="always"), check_mode=True)

    assert result["images"][0]["action"] == "would_pull"
    assert result["changed"] is True
    assert len(docker_api.calls("POST", "/images/create")) == 1  # only the first, real run pulled


def test_pull_always_is_changed_only_when_the_image_id_changes(run_module, docker_api):
    first = run_module(image_pull, pull_args(docker_api, ["busybox"], pull="always"))
    again = run_module(image_pull, pull_args(docker_api, ["busybox"], pull="always"))
    docker_api.registries["docker.io"].push("library/busybox", "latest", BUSYBOX_PLATFORMS, revision="2")
    updated = run_module(image_pull, pull_args(docker_api, ["busybox"], pull="always"))

    assert first["changed"] is True
    assert again["changed"] is False
    assert len(docker_api.calls("POST", "/images/create")) == 3  # always asks the registry
    assert updated["changed"] is True
    assert updated["images"][0]["previous_id"] == first["images"][0]["id"]
    assert updated["images"][0]["id"] != first["images"][0]["id"]


def test_platform_pull_and_idempotence(run_module, docker_api):
    item = {"name": "busybox", "platform": "aarch64"}

    first = run_module(image_pull, pull_args(docker_api, [item]))
    second = run_module(image_pull, pull_args(docker_api, [item]))

    assert first["images"][0]["platform"] == "linux/arm64/v8"
    assert first["images"][0]["requested_platform"] == "linux/arm64/v8"
    assert docker_api.calls("POST", "/images/create")[0][2]["platform"] == "linux/arm64/v8"
    assert second["changed"] is False


def test_platform_not_offered_fails_naming_offered_platforms_after_pulling_the_others(run_module, docker_api):
    images = [{"name": "busybox", "platform": "linux/s390x"}, "alpine"]

    result = run_module(image_pull, pull_args(docker_api, images))

    assert result.rc == 1
    assert "busybox:latest: the registry does not offer platform linux/s390x; it offers: " \
           "linux/amd64, linux/arm64/v8, linux/arm/v7" in result["msg"]
    assert by_name(result)["busybox:latest"]["error_kind"] == "platform_unavailable"
    assert by_name(result)["alpine:latest"]["action"] == "pulled"
    assert result["failed_images"] == ["busybox:latest"]
    assert [c[2]["fromImage"] for c in docker_api.calls("POST", "/images/create")] == ["docker.io/library/alpine"]


def test_platform_stream_error_with_http_200_is_a_failure(run_module, docker_api, monkeypatch):
    # Registry metadata not available: the daemon's own in-stream error decides.
    monkeypatch.setattr(image_pull.ImagePuller, "_remote", lambda self, result, request: None)

    result = run_module(image_pull, pull_args(docker_api, [{"name": "busybox", "platform": "linux/s390x"}]))

    assert result.rc == 1
    said = ("no match for platform in manifest: not found" if docker_api.containerd  # HTTP 404 there (26.1)
            else "no matching manifest for linux/s390x in the manifest list entries")
    assert said in result["msg"]
    assert result["images"][0]["error_kind"] == "platform_unavailable"
    assert docker_api.local("busybox:latest") is None


def test_registry_mirror_pulls_from_the_mirror_and_tags_the_canonical_name(run_module, docker_api):
    mirror = docker_api.registry("mirror.example:5000")
    mirror.push("quay/centos7/httpd-24-centos7", "latest", ["linux/amd64"])
    mirrors = {"quay.io": "mirror.example:5000/quay"}

    first = run_module(image_pull, pull_args(docker_api, ["quay.io/centos7/httpd-24-centos7"], registry_mirrors=mirrors))
    second = run_module(image_pull, pull_args(docker_api, ["quay.io/centos7/httpd-24-centos7"], registry_mirrors=mirrors,
                                              pull="always"))

    assert first.rc == 0, first.get("msg")
    image = first["images"][0]
    assert image["source"] == "mirror.example:5000/quay/centos7/httpd-24-centos7:latest"
    assert image["reference"] == "quay.io/centos7/httpd-24-centos7:latest"
    tag_call = docker_api.calls("POST", "/images/mirror.example:5000/quay/centos7/httpd-24-centos7:latest/tag")[0]
    assert tag_call[2] == {"repo": "quay.io/centos7/httpd-24-centos7", "tag": "latest"}
    local = docker_api.local("quay.io/centos7/httpd-24-centos7:latest")
    assert sorted(local["RepoTags"]) == ["mirror.example:5000/quay/centos7/httpd-24-centos7:latest",
                                         "quay.io/centos7/httpd-24-centos7:latest"]
    assert image["repo_digest"] == mirror.repos["quay/centos7/httpd-24-centos7"]["latest"]["digest"]
    assert second["changed"] is False
    assert not [c for c in docker_api.calls("POST", "/images/create") if c[2]["fromImage"].startswith("quay.io")]


@pytest.mark.parametrize("images, expected", [
    (["busybox:"], "the tag after ':' is empty"),
    (["Busybox"], "repository name (library/Busybox) must be lowercase"),
    (["busybox@sha256:abc"], "a sha256 digest has exactly 64 lower-case hex digits"),
    ([""], "repository name must have at least one component"),
    ([{"name": "busybox", "tag": "1"}], "unknown keys tag"),
    ([{"name": "busybox", "platform": "linux/arm/v7/extra"}], "too many components"),
    (["busybox", {"name": "busybox", "platform": "linux/arm64"}], "listed twice"),
])
def test_invalid_input_fails_before_any_api_call(run_module, docker_api, images, expected):
    result = run_module(image_pull, pull_args(docker_api, images))

    assert result.rc == 1
    assert "nothing was pulled" in result["msg"]
    assert expected in result["msg"]
    assert docker_api.requests == []


def test_missing_tag_is_reported_and_not_retried(run_module, docker_api):
    result = run_module(image_pull, pull_args(docker_api, ["busybox:nope"], retries=3, platform_guard="off"))

    image = result["images"][0]
    assert result.rc == 1
    assert image["error_kind"] == "manifest_unknown"
    assert image["attempts"] == 1
    assert "the tag or digest does not exist in the registry" in result["msg"]
    said = ('"docker.io/library/busybox:nope": docker.io/library/busybox:nope: not found' if docker_api.containerd
            else "manifest for busybox:nope not found: manifest unknown: manifest unknown")
    assert said in result["msg"]


def test_repository_that_does_not_exist(run_module, docker_api):
    result = run_module(image_pull, pull_args(docker_api, ["fleetops/no-such-repo"]))

    assert result.rc == 1
    assert result["images"][0]["error_kind"] == "repository_not_found"
    assert "repository does not exist" in result["msg"]


@pytest.mark.parametrize("down, kind, attempts", [
    ("refused", "registry_unreachable", 3),
    ("no_such_host", "registry_unreachable", 1),
])
def test_registry_down(run_module, docker_api, down, kind, attempts):
    docker_api.registry("registry.example.com", down=down)

    result = run_module(image_pull, pull_args(docker_api, ["registry.example.com/team/app:1.0"], retries=2))

    assert result.rc == 1
    assert result["images"][0]["error_kind"] == kind
    assert result["images"][0]["attempts"] == attempts
    assert "the registry could not be reached" in result["msg"]


@pytest.mark.parametrize("message", [
    "Get \"https://registry-1.docker.io/v2/\": net/http: TLS handshake timeout",
    "toomanyrequests: You have reached your pull rate limit.",
    "received unexpected HTTP status: 503 Service Unavailable",
    "read tcp 10.0.0.5:41234->10.0.0.9:443: read: connection reset by peer",
])
def test_transient_errors_are_retried_until_success(run_module, docker_api, message):
    # SYNTHETIC daemon messages: wording of dockerd registry errors seen in public bug reports.
    docker_api.fail_pulls["busybox"] = [message, message]

    result = run_module(image_pull, pull_args(docker_api, ["busybox"], retries=2))

    assert result.rc == 0, result.get("msg")
    assert result["images"][0]["attempts"] == 3
    assert result["images"][0]["action"] == "pulled"


def test_transient_error_inside_the_stream_is_retried(run_module, docker_api):
    docker_api.fail_in_stream["busybox"] = ["unexpected EOF"]

    result = run_module(image_pull, pull_args(docker_api, ["busybox"]))

    assert result.rc == 0, result.get("msg")
    assert result["images"][0]["attempts"] == 2


def test_failed_pull_keeps_the_existing_image(run_module, docker_api):
    first = run_module(image_pull, pull_args(docker_api, ["busybox"]))
    docker_api.fail_pulls["busybox"] = ["Get \"https://registry-1.docker.io/v2/\": net/http: TLS handshake timeout"] * 5

    result = run_module(image_pull, pull_args(docker_api, ["busybox"], pull="always", retries=1))

    assert result.rc == 1
    assert result["images"][0]["attempts"] == 2
    assert docker_api.local("busybox:latest")["Id"] == first["images"][0]["id"]
    assert docker_api.calls("POST", "/images/docker.io") == []  # no tag call


def test_unauthorized_without_credentials(run_module, docker_api):
    docker_api.registry("registry.example.com", credentials=("deploy", "s3cret")).push("team/app", "1.0", ["linux/amd64"])

    result = run_module(image_pull, pull_args(docker_api, ["registry.example.com/team/app:1.0"],
                                              docker_config="/nonexistent/config.json"))

    assert result.rc == 1
    assert result["images"][0]["error_kind"] == "unauthorized"
    assert "no basic auth credentials" in result["msg"]
    asked = docker_api.calls("GET", "/distribution/") + docker_api.calls("POST", "/images/create")  # guard query first
    assert asked and all("X-Registry-Auth" not in call[3] for call in asked)


def test_registry_auth_option_sends_header_and_hides_the_password(run_module, docker_api):
    docker_api.registry("registry.example.com", credentials=("deploy", "s3cret")).push("team/app", "1.0", ["linux/amd64"])
    auth = [{"registry": "registry.example.com", "username": "deploy", "password": "s3cret"}]

    result = run_module(image_pull, pull_args(docker_api, ["registry.example.com/team/app:1.0"], registry_auth=auth))

    assert result.rc == 0, result.get("msg")
    header = docker_api.calls("POST", "/images/create")[0][3]["X-Registry-Auth"]
    assert _registry_auth.decode_header(header) == {
        "username": "deploy", "password": "s3cret", "serveraddress": "registry.example.com"}
    assert "s3cret" not in json.dumps(dict(result))


def test_wrong_password_is_unauthorized(run_module, docker_api):
    docker_api.registry("registry.example.com", credentials=("deploy", "s3cret")).push("team/app", "1.0", ["linux/amd64"])
    auth = [{"registry": "registry.example.com", "username": "deploy", "password": "wrong"}]

    result = run_module(image_pull, pull_args(docker_api, ["registry.example.com/team/app:1.0"], registry_auth=auth))

    assert result["images"][0]["error_kind"] == "unauthorized"
    assert "unauthorized: authentication required" in result["msg"]


def test_digest_reference_is_pulled_by_digest_and_idempotent(run_module, docker_api):
    digest = docker_api.registries["docker.io"].repos["library/alpine"]["latest"]["digest"]
    reference = "alpine:3.19@" + digest

    first = run_module(image_pull, pull_args(docker_api, [reference]))
    second = run_module(image_pull, pull_args(docker_api, [reference]))

    assert first["images"][0]["reference"] == "docker.io/library/alpine@" + digest
    assert docker_api.calls("POST", "/images/create")[0][2] == {"fromImage": "docker.io/library/alpine", "tag": digest}
    assert first["changed"] is True
    assert second["changed"] is False


def test_daemon_not_running(run_module, tmp_path):
    result = run_module(image_pull, {"images": ["busybox"], "docker_host": f"unix://{tmp_path}/docker.sock"})

    assert result.rc == 1
    assert f"Docker daemon is not running or its socket {tmp_path}/docker.sock does not exist" in result["msg"]


def test_check_mode_without_a_daemon_predicts_every_pull(run_module, tmp_path):
    args = {"images": ["busybox", "quay.io/centos7/httpd-24-centos7"], "docker_host": f"unix://{tmp_path}/docker.sock"}

    result = run_module(image_pull, args, check_mode=True)

    assert result.rc == 0
    assert result["changed"] is True
    assert [image["action"] for image in result["images"]] == ["would_pull", "would_pull"]
    assert result["summary"]["would_pull"] == 2
    assert "check mode reports every image as would_pull" in result.warning_texts[0]


def test_permission_denied_on_the_socket(run_module, docker_api, monkeypatch):
    def denied(self, address):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(socket.socket, "connect", denied)

    result = run_module(image_pull, pull_args(docker_api, ["busybox"]))

    assert result.rc == 1
    assert f"Permission denied on the Docker socket {docker_api.socket_path}" in result["msg"]
    assert "'docker' group" in result["msg"] and "become: true" in result["msg"]


def test_tcp_docker_host_is_refused_clearly(run_module):
    result = run_module(image_pull, {"images": ["busybox"], "docker_host": "tcp://10.0.0.1:2375"})

    assert result.rc == 1
    assert "only local UNIX sockets" in result["msg"]


@pytest.mark.parametrize("options, expected", [
    ({"timeout": 0}, "timeout must be 1 second or more, got 0"),
    ({"concurrency": 0}, "concurrency must be 1 or more, got 0"),
    ({"retries": -1}, "retries must be 0 or more, got -1"),
    ({"retry_delay": -0.5}, "retry_delay must be 0 or more seconds, got -0.5"),
])
def test_invalid_options_fail_before_any_api_call(run_module, docker_api, options, expected):
    result = run_module(image_pull, pull_args(docker_api, ["busybox"], **options))

    assert result.rc == 1
    assert result["msg"] == "Invalid images or options, nothing was pulled: " + expected
    assert docker_api.requests == []


# ---------------------------------------------------------------- platform guard
UNAME_AMD64 = ("Linux", "x86-host", "6.1.0", "#1 SMP", "x86_64")
UNAME_ARM64 = ("Linux", "graviton-host", "6.1.0", "#1 SMP", "aarch64")
QUAY = "quay.io/centos7/httpd-24-centos7"


@pytest.fixture
def host(monkeypatch, docker_api):
    """host(uname): the target's uname and the daemon's own platform (what dockerd pulls by default)."""
    from ansible_collections.fleetops.docker.plugins.module_utils import _platforms

    def use(uname):
        monkeypatch.setattr(_platforms.os, "uname", lambda: uname)
        docker_api.host_platform = "linux/arm64/v8" if uname[4] == "aarch64" else "linux/amd64"
    use(UNAME_AMD64)
    return use


def pulled(docker_api):
    return sorted(call[2]["fromImage"] for call in docker_api.calls("POST", "/images/create"))


def test_guard_fail_refuses_an_amd64_only_image_on_arm64_before_pulling_it(run_module, docker_api, host):
    host(UNAME_ARM64)

    result = run_module(image_pull, pull_args(docker_api, ["busybox", QUAY]))

    assert result.rc == 1
    assert ("quay.io/centos7/httpd-24-centos7:latest: not pulled: none of the platforms the registry offers runs on "
            "this host (linux/arm64/v8); it offers: linux/amd64 (platform_guard=fail)") in result["msg"]
    refused = by_name(result)["quay.io/centos7/httpd-24-centos7:latest"]
    assert (refused["action"], refused["error_kind"], refused["id"]) == ("failed", "platform_unavailable", None)
    assert by_name(result)["busybox:latest"]["platform"] == "linux/arm64/v8"
    assert pulled(docker_api) == ["docker.io/library/busybox"]
    assert docker_api.local(f"{QUAY}:latest") is None
    assert result["failed_images"] == [f"{QUAY}:latest"]


def test_guard_skip_leaves_it_absent_and_says_why(run_module, docker_api, host):
    host(UNAME_ARM64)

    result = run_module(image_pull, pull_args(docker_api, ["alpine", QUAY], platform_guard="skip"))

    assert result.rc == 0, result.get("msg")
    skipped = by_name(result)[f"{QUAY}:latest"]
    assert (skipped["action"], skipped["changed"], skipped["failed"]) == ("skipped", False, False)
    assert skipped["msg"] == (f"{QUAY}:latest: not pulled: no linux/arm64 variant (the registry offers linux/amd64)")
    assert result["summary"] == {"total": 2, "pulled": 1, "unchanged": 0, "would_pull": 0, "skipped": 1, "failed": 0}
    assert result["skipped_images"] == [f"{QUAY}:latest"]
    assert skipped["msg"] in result.warning_texts
    assert pulled(docker_api) == ["docker.io/library/alpine"]
    assert docker_api.local(f"{QUAY}:latest") is None


def test_guard_refuses_the_arm64_only_image_on_amd64_and_accepts_it_on_arm64(run_module, docker_api, host):
    on_amd64 = run_module(image_pull, pull_args(docker_api, ["fleetops/arm64-only"]))
    host(UNAME_ARM64)
    on_arm64 = run_module(image_pull, pull_args(docker_api, ["fleetops/arm64-only"]))

    assert on_amd64.rc == 1
    assert "runs on this host (linux/amd64); it offers: linux/arm64/v8" in on_amd64["msg"]
    assert on_arm64.rc == 0, on_arm64.get("msg")
    assert on_arm64["images"][0]["platform"] == "linux/arm64/v8"
    assert pulled(docker_api) == ["docker.io/fleetops/arm64-only"]


def test_guard_off_pulls_the_wrong_architecture_like_dockerd_without_asking(run_module, docker_api, host):
    result = run_module(image_pull, pull_args(docker_api, ["fleetops/arm64-only"], platform_guard="off"))

    assert result.rc == 0, result.get("msg")
    assert result["images"][0]["platform"] == "linux/arm64/v8"  # what dockerd 20.10 does on an amd64 host
    assert docker_api.calls("GET", "/distribution/") == []


def test_guard_costs_one_round_trip_per_image_it_is_about_to_pull(run_module, docker_api, host):
    docker_api.add_local_image("alpine:latest")
    requests = ["busybox", "alpine", {"name": QUAY, "platform": "linux/amd64"}]

    result = run_module(image_pull, pull_args(docker_api, requests))

    assert result.rc == 0, result.get("msg")
    asked = sorted(call[1] for call in docker_api.calls("GET", "/distribution/"))
    assert asked == ["/distribution/docker.io/library/busybox:latest/json",
                     f"/distribution/{QUAY}:latest/json"]  # present alpine: none; pinned platform: as before


@pytest.mark.parametrize("guard, action, rc", [("fail", "failed", 1), ("skip", "skipped", 0), ("off", "would_pull", 0)])
def test_check_mode_gives_the_same_answer_with_one_round_trip(run_module, docker_api, host, guard, action, rc):
    host(UNAME_ARM64)

    result = run_module(image_pull, pull_args(docker_api, [QUAY], platform_guard=guard), check_mode=True)

    assert result.rc == rc
    assert result["images"][0]["action"] == action
    assert len(docker_api.calls("GET", "/distribution/")) == 1
    assert docker_api.calls("POST") == []


def test_guard_pulls_when_the_registry_gives_no_platforms(run_module, docker_api, host, monkeypatch):
    real_send = docker_api.send_json

    def without_platforms(h, status, body):  # a registry answer without platform information
        return real_send(h, status, dict(body, Platforms=None) if isinstance(body, dict) else body)

    monkeypatch.setattr(docker_api, "send_json", without_platforms)

    result = run_module(image_pull, pull_args(docker_api, ["fleetops/arm64-only"]))

    assert result.rc == 0, result.get("msg")
    assert result["images"][0]["action"] == "pulled"
    assert len(docker_api.calls("GET", "/distribution/")) == 1

"""image_pull and image_facts on dockerd 26.1 (API 1.45) with the classic store and with the containerd image store.

The general module tests run on every dockerd shape (DOCKERD_SHAPES); these are the differences between them: the
recorded 26.1 answers, an image ID that is an index digest, and several platforms under one name.
"""
from __future__ import annotations

import json

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import _image_errors, _image_store, _platforms
from ansible_collections.fleetops.docker.plugins.module_utils._docker_api import DockerAPIClient
from ansible_collections.fleetops.docker.plugins.modules import image_facts, image_pull
from ansible_collections.fleetops.docker.tests.unit.plugins.fake_docker_api import (
    CAPTURES_BY_SHAPE,
    FakeDockerAPI,
    captured,
)

UNAME_AMD64 = ("Linux", "x86-host", "6.1.0", "#1 SMP", "x86_64")
BUSYBOX_PLATFORMS = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]


def start(shape):
    fake = FakeDockerAPI(shape=shape).start()
    fake.registry("docker.io").push("library/busybox", "latest", BUSYBOX_PLATFORMS)
    fake.registry("docker.io").push("fleetops/arm64-only", "latest", ["linux/arm64/v8"])
    return fake


@pytest.fixture
def host(monkeypatch):
    monkeypatch.setattr(_platforms.os, "uname", lambda: UNAME_AMD64)


@pytest.fixture
def containerd():
    fake = start("26.1-containerd")
    yield fake
    fake.stop()


@pytest.fixture(params=["20.10", "26.1"])
def classic(request):
    fake = start(request.param)
    yield fake
    fake.stop()


def pull(run_module, docker_api, images, **extra):
    return run_module(image_pull, dict({"images": images, "docker_host": docker_api.docker_host, "retry_delay": 0},
                                       **extra))


def facts(run_module, docker_api, images):
    return run_module(image_facts, {"images": images, "docker_host": docker_api.docker_host})


# ---------------------------------------------------------------- the recorded answers themselves
@pytest.mark.parametrize("shape", ["26.1", "26.1-containerd"])
def test_recorded_26_inspect_has_no_fields_removed_in_api_1_44_and_1_45(shape):
    for key in ("inspect_pinned", "inspect_busybox", "inspect_arm64_only"):
        inspect = captured(key, shape)
        assert not {"VirtualSize", "Container", "ContainerConfig"} & set(inspect), key
        assert {"Id", "RepoTags", "RepoDigests", "Os", "Architecture", "Size", "Created"} <= set(inspect)
    assert all("VirtualSize" not in entry for entry in captured("images_list", shape))
    assert captured("version", shape)["ApiVersion"] == "1.45"


def test_recorded_20_10_inspect_still_has_them():
    assert {"VirtualSize", "Container", "ContainerConfig"} <= set(captured("inspect_pinned"))


def test_recorded_ids_classic_is_the_config_digest_containerd_the_index_digest():
    index = json.loads(CAPTURES_BY_SHAPE["26.1"]["distribution_busybox_index"]["body"])["Descriptor"]["digest"]
    assert captured("inspect_busybox", "26.1")["Id"] != index
    assert captured("inspect_busybox", "26.1-containerd")["Id"] == index
    # after pulling linux/arm64 too: classic moved the tag to the arm64 image, containerd still shows amd64
    assert captured("inspect_busybox_after_arm64", "26.1")["Architecture"] == "arm64"
    after = captured("inspect_busybox_after_arm64", "26.1-containerd")
    assert (after["Id"], after["Architecture"]) == (index, "amd64")


@pytest.mark.parametrize("key, kind", [
    ("pull_missing_tag", "manifest_unknown"),
    ("pull_missing_repository", "manifest_unknown"),
    ("pull_no_credentials", "unauthorized"),
    ("pull_bad_credentials", "unauthorized"),
    ("pull_connection_refused", "registry_unreachable"),
    ("pull_no_such_host", "registry_unreachable"),
    ("pull_uppercase", "invalid_reference"),
    ("pull_busybox_platform_missing", "platform_unavailable"),
])
@pytest.mark.parametrize("shape", ["26.1", "26.1-containerd"])
def test_recorded_26_errors_are_classified(shape, key, kind):
    body = CAPTURES_BY_SHAPE[shape][key]["body"].strip().splitlines()[-1]
    entry = json.loads(body)
    message = entry.get("message") or entry["errorDetail"]["message"]
    assert _image_errors.classify(message)[0] == kind, message


def test_client_negotiates_api_1_45_with_the_recorded_26_daemon(containerd):
    client = DockerAPIClient(containerd.docker_host)
    assert client.api_version == "1.45"
    assert client.version()["Version"] == "26.1.5+dfsg1"
    assert containerd.calls("GET", "/images/create") == []


# ---------------------------------------------------------------- the containerd image store
def test_containerd_a_pull_that_adds_a_platform_is_a_change_although_the_id_stays(run_module, containerd, host):
    first = pull(run_module, containerd, ["busybox"])
    arm = pull(run_module, containerd, [{"name": "busybox", "platform": "linux/arm64/v8"}])
    again = pull(run_module, containerd, [{"name": "busybox", "platform": "linux/arm64/v8"}])
    amd = pull(run_module, containerd, [{"name": "busybox", "platform": "linux/amd64", "pull": "always"}])

    assert first.rc == arm.rc == again.rc == amd.rc == 0, (arm.get("msg"), amd.get("msg"))
    index = containerd.registries["docker.io"].find("library/busybox", "latest")["digest"]
    image = arm["images"][0]
    assert (image["previous_id"], image["id"]) == (index, index)
    assert arm["changed"] is True and image["action"] == "pulled"
    assert image["platform"] == "linux/arm64/v8"
    assert image["platforms"] == ["linux/amd64", "linux/arm64/v8"]
    assert again["changed"] is False  # pull=missing: the platform is present under the name
    assert containerd.calls("POST", "/images/create").__len__() == 3
    # amd64 never left: asking for it again changes nothing (with the classic store it moves the tag back)
    assert amd["changed"] is False and amd["images"][0]["platform"] == "linux/amd64"


def test_classic_a_platform_pull_replaces_the_image_under_the_tag(run_module, classic, host):
    pull(run_module, classic, ["busybox"])
    arm = pull(run_module, classic, [{"name": "busybox", "platform": "linux/arm64/v8"}])
    amd = pull(run_module, classic, [{"name": "busybox", "platform": "linux/amd64"}])

    assert arm["changed"] is True and arm["images"][0]["platforms"] == ["linux/arm64/v8"]
    assert amd["changed"] is True and amd["images"][0]["platforms"] == ["linux/amd64"]
    assert amd["images"][0]["id"] != arm["images"][0]["id"]


def test_containerd_check_mode_predicts_a_missing_platform(run_module, containerd, host):
    pull(run_module, containerd, ["busybox"])

    predicted = run_module(image_pull, {"images": [{"name": "busybox", "platform": "linux/arm64/v8"}],
                                        "docker_host": containerd.docker_host}, check_mode=True)
    present = run_module(image_pull, {"images": [{"name": "busybox", "platform": "linux/amd64"}],
                                      "docker_host": containerd.docker_host}, check_mode=True)

    assert predicted["changed"] is True and predicted["images"][0]["action"] == "would_pull"
    assert present["changed"] is False
    assert len(containerd.calls("POST", "/images/create")) == 1


def test_containerd_facts_list_every_platform_and_judge_the_one_the_host_runs(run_module, containerd, host):
    pull(run_module, containerd, ["busybox"])
    pull(run_module, containerd, [{"name": "busybox", "platform": "linux/arm/v7"}])
    pull(run_module, containerd, ["fleetops/arm64-only"], platform_guard="off")

    result = facts(run_module, containerd, ["busybox", "fleetops/arm64-only"])

    busybox = result["images"]["busybox:latest"]
    assert busybox["image_store"] == "containerd"
    assert busybox["platforms"] == ["linux/amd64", "linux/arm/v7"]
    assert (busybox["platform"], busybox["compatible"]) == ("linux/amd64", True)
    arm_only = result["images"]["fleetops/arm64-only:latest"]
    assert (arm_only["platforms"], arm_only["compatible"]) == (["linux/arm64/v8"], False)
    assert result["incompatible"] == ["fleetops/arm64-only:latest"]


def test_classic_facts_name_the_store_and_one_platform(run_module, classic, host):
    pull(run_module, classic, ["busybox"])

    busybox = facts(run_module, classic, ["busybox"])["images"]["busybox:latest"]

    assert (busybox["image_store"], busybox["platforms"]) == ("classic", ["linux/amd64"])


# ---------------------------------------------------------------- reading containerd's content store
def write_blob(root, digest, document):
    path = _image_store.ContentStore(str(root)).path(digest)
    import os

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(document if isinstance(document, str) else json.dumps(document))


def recorded_store(tmp_path):
    """The recorded busybox index, manifests and blob list of dockerd 26.1's containerd store (REAL)."""
    content = CAPTURES_BY_SHAPE["26.1-containerd"]["containerd_content"]
    write_blob(tmp_path, content["busybox_index_digest"], content["busybox_index"])
    for digest, manifest in content["busybox_manifests"].items():
        if manifest is not None:
            write_blob(tmp_path, digest, manifest)
    for digest in content["blobs_present"]:
        if _image_store.ContentStore(str(tmp_path)).document(digest) is None:
            write_blob(tmp_path, digest, "blob")
    return content


def test_recorded_content_store_gives_the_platforms_pulled(tmp_path):
    content = recorded_store(tmp_path)
    inspect = captured("inspect_busybox_after_arm64", "26.1-containerd")

    store, present = _image_store.local_platforms(inspect, roots=[str(tmp_path / "none"), str(tmp_path)])

    assert store == "containerd"
    assert [str(p) for p in present] == ["linux/amd64", "linux/arm64/v8"]  # arm/v7 was never pulled
    assert len(content["busybox_index"]["manifests"]) == 3


def test_a_platform_with_a_missing_layer_is_not_present(tmp_path):
    content = recorded_store(tmp_path)
    arm = [d for d, m in content["busybox_manifests"].items()
           if m and d != content["busybox_index"]["manifests"][0]["digest"]][0]
    layer = content["busybox_manifests"][arm]["layers"][0]["digest"]
    (tmp_path / "io.containerd.content.v1.content" / "blobs" / "sha256" / layer.split(":")[1]).unlink()

    _store, present = _image_store.local_platforms({"Id": content["busybox_index_digest"]}, roots=[str(tmp_path)])

    assert [str(p) for p in present] == ["linux/amd64"]


def test_classic_store_and_unreadable_store_fall_back_to_the_inspected_platform(tmp_path):
    classic = captured("inspect_busybox", "26.1")
    assert _image_store.local_platforms(classic, roots=[str(tmp_path)]) == ("classic", [_platforms.from_image(classic)])
    # a containerd image whose content store cannot be read (not root): still named by its ID, one platform known
    c8d = captured("inspect_busybox", "26.1-containerd")
    store, present = _image_store.local_platforms(c8d, roots=[str(tmp_path)])
    assert (store, [str(p) for p in present]) == ("containerd", ["linux/amd64"])


def test_attestation_manifests_and_junk_are_not_platforms(tmp_path):
    manifest = {"config": {"digest": "sha256:c0"}, "layers": [{"digest": "sha256:l0"}]}
    write_blob(tmp_path, "sha256:m0", manifest)
    write_blob(tmp_path, "sha256:c0", {"os": "linux", "architecture": "amd64"})
    write_blob(tmp_path, "sha256:l0", "layer")
    write_blob(tmp_path, "sha256:a0", manifest)
    write_blob(tmp_path, "sha256:i0", {"manifests": [
        {"digest": "sha256:m0", "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:a0", "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
        "junk", {"digest": "../../etc/passwd"}]})
    write_blob(tmp_path, "sha256:bad", "{not json")

    assert _image_store.local_platforms({"Id": "sha256:i0"}, roots=[str(tmp_path)])[1] == [
        _platforms.Platform("linux", "amd64", "")]
    assert _image_store.local_platforms({"Id": "sha256:bad", "Os": "linux", "Architecture": "arm64"},
                                        roots=[str(tmp_path)])[0] == "classic"
    assert _image_store.ContentStore(str(tmp_path)).path("sha256:../x") is None

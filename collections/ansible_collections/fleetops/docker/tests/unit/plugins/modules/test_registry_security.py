"""Registry credentials: helper names and lookup, helper timeouts and output, no_log on secrets, credentials in
mirror URLs, which credentials a mirrored pull sends; platform decisions of image_pull and image_facts.

Credential helpers are real shell scripts run as subprocesses; the daemon is the fake Engine API on a real socket."""
from __future__ import annotations

import json
import os
import stat
import time
from types import SimpleNamespace

import pytest
from ansible.module_utils import basic
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _image_reference as refs,
)
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _platforms as platforms,
)
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _registry_auth as auth_mod,
)
from ansible_collections.fleetops.docker.plugins.module_utils._image_views import (
    repo_digests,
)
from ansible_collections.fleetops.docker.plugins.modules import (
    image_facts,
    image_pull,
)
from ansible_collections.fleetops.docker.tests.unit.plugins.fake_docker_api import (
    FakeDockerAPI,
)
from ansible_collections.fleetops.docker.tests.unit.plugins.module_utils.test_registry_auth import (
    write_config as config,
)

SECRET = "S3CRET-value-0f-a-helper"


def script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


# ---------------------------------------------------------------- helper names and lookup
def test_helper_name_with_a_path_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    (tmp_path / "docker-credential-x").mkdir()
    script(tmp_path / "evil", f"touch {marker}\necho '{{\"Username\":\"a\",\"Secret\":\"b\"}}'\n")
    monkeypatch.chdir(tmp_path)
    resolver = auth_mod.RegistryAuth(config_path=config(tmp_path, {"credHelpers": {"quay.io": "x/../evil"}}))

    with pytest.raises(auth_mod.RegistryAuthError) as raised:
        resolver.header_for("quay.io")

    assert "is not a plain program name" in str(raised.value)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../evil", "/usr/bin/evil", "-evil", ".hidden", "a b", "", 3])
def test_helper_names_other_than_program_names_are_refused(tmp_path, name):
    resolver = auth_mod.RegistryAuth(config_path=config(tmp_path, {"credsStore": name}), which=pytest.fail)
    if not name:
        assert resolver.header_for("quay.io") is None  # an empty credsStore means none, like docker
        return
    with pytest.raises(auth_mod.RegistryAuthError):
        resolver.header_for("quay.io")


@pytest.mark.parametrize("path_value", [".", "", "relative/dir"])
def test_helper_is_looked_up_on_absolute_path_entries_only(tmp_path, monkeypatch, path_value):
    marker = tmp_path / "ran"
    workdir = tmp_path / "work"
    (workdir / "relative" / "dir").mkdir(parents=True)
    for where in (workdir, workdir / "relative" / "dir"):
        script(where / "docker-credential-good", f"touch {marker}\necho '{{\"Username\":\"a\",\"Secret\":\"b\"}}'\n")
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("PATH", f"{path_value}{os.pathsep}/usr/bin{os.pathsep}/bin")
    resolver = auth_mod.RegistryAuth(config_path=config(tmp_path, {"credsStore": "good"}))

    with pytest.raises(auth_mod.RegistryAuthError) as raised:
        resolver.header_for("quay.io")

    assert "is not installed or not on PATH" in str(raised.value)
    assert not marker.exists()


def test_a_hanging_helper_is_stopped_at_the_module_timeout(tmp_path, monkeypatch):
    script(tmp_path / "docker-credential-hang", "sleep 60\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    resolver = auth_mod.RegistryAuth(config_path=config(tmp_path, {"credsStore": "hang"}), runner=auth_mod.timed_runner(1))
    started = time.monotonic()

    with pytest.raises(auth_mod.RegistryAuthError) as raised:
        resolver.header_for("quay.io")

    assert "did not answer for quay.io within 1s" in str(raised.value)
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("answer", ["[]", '"text"', "null", "42"])
def test_a_helper_answer_that_is_not_an_object_is_an_error(tmp_path, monkeypatch, answer):
    script(tmp_path / "docker-credential-odd", f"echo '{answer}'\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    resolver = auth_mod.RegistryAuth(config_path=config(tmp_path, {"credsStore": "odd"}))

    with pytest.raises(auth_mod.RegistryAuthError) as raised:
        resolver.header_for("quay.io")
    assert "did not return a JSON object" in str(raised.value)


def test_cred_helpers_entry_wins_over_creds_store(tmp_path, monkeypatch):
    for name in ("store", "perhost"):
        script(tmp_path / f"docker-credential-{name}", f"echo '{{\"Username\":\"{name}\",\"Secret\":\"x\"}}'\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    resolver = auth_mod.RegistryAuth(config_path=config(tmp_path, {"credsStore": "store", "credHelpers": {"quay.io": "perhost"}}))

    assert auth_mod.decode_header(resolver.header_for("quay.io"))["username"] == "perhost"
    assert auth_mod.decode_header(resolver.header_for("ghcr.io"))["username"] == "store"


# ---------------------------------------------------------------- secrets in module output
@pytest.fixture
def docker_api():
    fake = FakeDockerAPI().start()
    fake.registry("docker.io").push("library/busybox", "latest", ["linux/amd64", "linux/arm64/v8"])
    fake.registry("docker.io").push("fleetops/arm64-only", "latest", ["linux/arm64/v8"])
    yield fake
    fake.stop()


def test_failing_helper_output_is_in_no_message_and_no_fact(tmp_path, monkeypatch, run_module, docker_api):
    script(tmp_path / "docker-credential-leaky", f"echo 'token {SECRET} rejected'\necho '{SECRET}' >&2\nexit 3\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    cfg = config(tmp_path, {"credsStore": "leaky"})

    pulled = run_module(image_pull, {"images": ["busybox"], "docker_host": docker_api.docker_host, "docker_config": cfg})
    facts = run_module(image_facts, {"images": ["busybox"], "docker_host": docker_api.docker_host, "docker_config": cfg,
                                     "remote": True})

    assert pulled.rc == 1 and "docker-credential-leaky get failed" in pulled["msg"]
    for result in (pulled, facts):
        assert SECRET not in json.dumps(result)


def test_identity_token_and_password_keep_no_log():
    options = auth_mod.REGISTRY_ARGUMENT_SPEC["registry_auth"]["options"]
    assert options["identity_token"].get("no_log") is True
    assert options["password"].get("no_log") is True


def test_identity_token_and_password_never_appear_in_the_result(run_module, docker_api):
    entries = [{"registry": "registry.example.com", "identity_token": "S3CRET-identity-token"},
               {"registry": "quay.io", "username": "robot", "password": "S3CRET-robot-password"}]

    result = run_module(image_pull, {"images": ["registry.example.com/team/app:1", "quay.io/org/app:1"],
                                     "docker_host": docker_api.docker_host, "registry_auth": entries})

    text = json.dumps(result)
    assert "invocation" in result
    assert "S3CRET-identity-token" not in text and "S3CRET-robot-password" not in text


def test_credentials_in_a_mirror_url_are_refused_without_echoing_them(run_module, docker_api):
    result = run_module(image_pull, {"images": ["quay.io/org/app:1"], "docker_host": docker_api.docker_host,
                                     "registry_mirrors": {"quay.io": "https://mirroruser:S3CRET-mirror@mirror.example.com/quay"}})

    assert result.rc == 1
    assert "holds credentials" in result["msg"]
    assert "S3CRET-mirror" not in json.dumps(result)
    assert docker_api.calls("POST") == []


def test_a_mirrored_pull_sends_the_mirrors_credentials_never_the_canonical_ones(run_module, docker_api):
    docker_api.registry("mirror.example.com", credentials=("mirror-user", "mirror-pw")).push(
        "quay/org/app", "1", ["linux/amd64"])
    entries = [{"registry": "quay.io", "username": "quay-user", "password": "quay-pw"},
               {"registry": "mirror.example.com", "username": "mirror-user", "password": "mirror-pw"}]

    result = run_module(image_pull, {"images": ["quay.io/org/app:1"], "docker_host": docker_api.docker_host,
                                     "registry_auth": entries, "registry_mirrors": {"quay.io": "mirror.example.com/quay"}})

    assert result.rc == 0, result.get("msg")
    creates = docker_api.calls("POST", "/images/create")
    assert [call[2]["fromImage"] for call in creates] == ["mirror.example.com/quay/org/app"]
    sent = auth_mod.decode_header(creates[0][3]["X-Registry-Auth"])
    assert sent["username"] == "mirror-user" and sent["serveraddress"] == "mirror.example.com"


def test_repo_digests_of_other_repositories_do_not_count():
    image = {"RepoDigests": ["fleetops/busybox@sha256:" + "a" * 64, "busybox@sha256:" + "b" * 64,
                             "quay.io/library/busybox@sha256:" + "c" * 64]}

    assert repo_digests(image, "docker.io/library/busybox") == ["sha256:" + "b" * 64]


# ---------------------------------------------------------------- platforms
AMD64_IMAGE = {"Id": "sha256:" + "1" * 64, "Os": "linux", "Architecture": "amd64", "RepoDigests": []}
ARM64_IMAGE = {"Id": "sha256:" + "2" * 64, "Os": "linux", "Architecture": "arm64", "Variant": "v8", "RepoDigests": []}


class PlatformClient:
    """inspect answers `before` until a pull, then `after`; the registry offers no platform list."""

    def __init__(self, before, after):
        self.before, self.after, self.pulls = before, after, []

    def remaining(self):
        return None

    def inspect_image(self, ref):
        return self.after if self.pulls else self.before

    def distribution(self, name, auth_header=None):
        return {"Descriptor": {"digest": "sha256:" + "9" * 64}}

    def pull_stream(self, name, tag, platform=None, auth_header=None):
        self.pulls.append(platform)


def platform_request(pull="missing", platform="linux/arm64/v8"):
    reference = refs.parse_docker_ref("busybox")
    return SimpleNamespace(name="busybox", reference=reference, source=reference, pull=pull,
                           platform=platforms.parse(platform) if platform else None, local_ref=str(reference), mirrored=False)


def test_pull_missing_with_a_local_image_of_another_platform_pulls():
    client = PlatformClient(before=AMD64_IMAGE, after=ARM64_IMAGE)

    result = image_pull.ImagePuller(client, {}).process(platform_request())

    assert client.pulls == ["linux/arm64/v8"]
    assert result["action"] == "pulled" and result["platform"] == "linux/arm64/v8"


def test_a_daemon_that_keeps_the_wrong_platform_is_an_error():
    client = PlatformClient(before=None, after=AMD64_IMAGE)

    result = image_pull.ImagePuller(client, {}).process(platform_request())

    assert result["failed"] is True and result["error_kind"] == "platform_unavailable"
    assert "kept the linux/amd64 image although linux/arm64/v8 was requested" in result["msg"]


@pytest.mark.parametrize("allow_32bit", [False, True])
def test_amd64_images_never_run_on_arm64_hosts(allow_32bit):
    assert platforms.compatible(platforms.parse("linux/amd64"), platforms.parse("linux/arm64/v8"), allow_32bit) is False
    assert platforms.compatible(platforms.parse("linux/amd64/v2"), platforms.parse("linux/arm64"), allow_32bit) is False


def test_remote_facts_say_when_the_registry_lacks_the_hosts_platform(run_module, docker_api, monkeypatch):
    monkeypatch.setattr(platforms.os, "uname", lambda: ("Linux", "h", "6.1", "#1", "x86_64"))

    result = run_module(image_facts, {"images": ["fleetops/arm64-only"], "docker_host": docker_api.docker_host, "remote": True})

    remote = result["images"]["fleetops/arm64-only:latest"]["remote"]
    assert remote["platforms"] == ["linux/arm64/v8"]
    assert remote["offers_host_platform"] is False


def test_the_syslog_line_of_an_image_module_carries_no_credential(run_module, monkeypatch):
    lines = []
    monkeypatch.setattr(basic, "has_journal", False)
    monkeypatch.setattr(basic.syslog, "openlog", lambda *args, **kwargs: None)
    monkeypatch.setattr(basic.syslog, "syslog", lambda *args: lines.append(args[-1]))

    run_module(image_pull, {"images": ["quay.io/a/b:1"], "docker_host": "unix:///nonexistent/docker.sock",
                            "registry_mirrors": {"quay.io": "https://mu:S3CRET-mirror@mirror.example.com/q"},
                            "registry_auth": [{"registry": "quay.io", "username": "u", "password": "S3CRET-pw"},
                                              {"registry": "ghcr.io", "identity_token": "S3CRET-token"}]})

    assert any(line.startswith("Invoked with") for line in lines)
    assert not any(secret in line for line in lines for secret in ("S3CRET-mirror", "S3CRET-pw", "S3CRET-token"))


@pytest.mark.parametrize("timeout", [86401, 9223372037])
def test_a_timeout_over_a_day_is_refused(run_module, docker_api, timeout):
    result = run_module(image_pull, {"images": ["busybox"], "docker_host": docker_api.docker_host, "timeout": timeout})

    assert result.rc == 1 and f"timeout must be at most 86400 seconds, got {timeout}" in result["msg"]
    assert docker_api.requests == []

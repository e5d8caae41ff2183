"""DockerAPIClient over a real UNIX socket (fake daemon), JSON stream parsing, error classification."""
from __future__ import annotations

import json
import os
import socket
import tempfile
import threading

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import _docker_api as api
from ansible_collections.fleetops.docker.plugins.module_utils._image_errors import (
    classify,
    describe,
)
from ansible_collections.fleetops.docker.tests.unit.plugins.fake_docker_api import (
    CAPTURES,
    FakeDockerAPI,
)


@pytest.fixture
def docker_api():
    fake = FakeDockerAPI().start()
    fake.registry("docker.io").push("library/busybox", "latest", ["linux/amd64", "linux/arm64/v8"])
    yield fake
    fake.stop()


@pytest.fixture
def short_dir():
    path = tempfile.mkdtemp(prefix="engapi-", dir="/tmp")
    yield path
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)


@pytest.mark.parametrize("daemon, expected", [("1.41", "1.41"), ("1.52", "1.47"), ("1.32", "1.32")])
def test_version_negotiation_uses_min_of_daemon_and_supported(daemon, expected):
    fake = FakeDockerAPI(api_version=daemon).start()
    try:
        client = api.DockerAPIClient(fake.docker_host)
        client.list_images()
    finally:
        fake.stop()

    assert client.api_version == expected
    assert fake.requests[0][1] == "/version"
    assert fake.requests[1][1] == "/images/json"


def test_too_old_daemon_is_refused():
    fake = FakeDockerAPI(api_version="1.25").start()
    try:
        with pytest.raises(api.DockerAPIError) as raised:
            api.DockerAPIClient(fake.docker_host).list_images()
    finally:
        fake.stop()

    assert "API 1.32 or newer is required" in str(raised.value)


def test_http_error_carries_the_daemon_message(docker_api):
    client = api.DockerAPIClient(docker_api.docker_host)

    with pytest.raises(api.DockerAPIError) as raised:
        client.distribution("busybox:nope")

    assert raised.value.status == 404
    assert raised.value.daemon_message == "manifest unknown: manifest unknown"
    assert "HTTP 404" in str(raised.value)


def test_inspect_missing_image_is_none(docker_api):
    assert api.DockerAPIClient(docker_api.docker_host).inspect_image("ghost:1") is None


def test_pull_stream_returns_the_final_status_and_raises_on_an_error_entry(docker_api):
    client = api.DockerAPIClient(docker_api.docker_host)

    final = client.pull_stream("docker.io/library/busybox", "latest")
    with pytest.raises(api.StreamError) as raised:
        client.pull_stream("docker.io/library/busybox", "latest", platform="linux/s390x")

    assert final == {"status": "Status: Downloaded newer image for busybox:latest"}
    assert raised.value.status == 200
    assert raised.value.daemon_message == "no matching manifest for linux/s390x in the manifest list entries"


class ChunkedAnswer:
    """A 200 response whose body arrives in the given chunks; counts how many were read."""

    status = 200

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.read_count = 0

    def read1(self, size):
        self.read_count += 1
        return self.chunks.pop(0) if self.chunks else b""


class ClosingConnection:
    closed = False

    def close(self):
        self.closed = True


def stream_of(monkeypatch, events):
    client = api.DockerAPIClient(api.DEFAULT_DOCKER_HOST, api_version="1.41")
    answer, conn = ChunkedAnswer(json.dumps(event).encode() + b"\r\n" for event in events), ClosingConnection()
    monkeypatch.setattr(client, "_send", lambda *args, **kwargs: (conn, answer))
    return client, answer, conn


def test_stream_keeps_only_the_last_entry(monkeypatch):
    progress = [{"status": "Downloading", "id": f"layer{n}", "progressDetail": {"current": n}} for n in range(2000)]
    client, answer, conn = stream_of(monkeypatch, progress + [{"status": "Status: Image is up to date for busybox:latest"}])

    assert client.stream("POST", "/images/create") == {"status": "Status: Image is up to date for busybox:latest"}
    assert answer.chunks == [] and conn.closed


def test_stream_stops_at_the_first_error_entry(monkeypatch):
    events = [{"status": "Pulling fs layer", "id": "a"}, {"errorDetail": {"message": "first failure"}, "error": "first failure"},
              {"error": "second failure"}, {"status": "never read"}]
    client, answer, conn = stream_of(monkeypatch, events)

    with pytest.raises(api.StreamError) as raised:
        client.stream("POST", "/images/create")

    assert raised.value.daemon_message == "first failure"
    assert answer.read_count == 2 and len(answer.chunks) == 2 and conn.closed


def test_stream_parser_handles_arbitrary_chunk_boundaries():
    body = CAPTURES["pull_pinned_first"]["body"].encode()
    chunks = [body[i:i + 7] for i in range(0, len(body), 7)]

    events = list(api.iter_json_stream(chunks))

    assert len(events) == 10
    assert events[-2] == {"status": "Digest: sha256:a48e2a662f16471de1724c2e6f4f5ba772223c6e59b51f5116e31a40a1866675"}


def test_stream_parser_reports_truncation():
    with pytest.raises(api.DockerAPIError):
        list(api.iter_json_stream([b'{"status":"Pulling from library/busybox","id":"lat']))


def test_stream_error_detection_uses_recorded_error_entry():
    last = CAPTURES["pull_busybox_platform_missing"]["body"].strip().splitlines()[-1]
    event = next(iter(api.iter_json_stream([last.encode()])))

    assert api.stream_error(event) == "no matching manifest for linux/s390x in the manifest list entries"
    assert api.stream_error({"status": "Pull complete"}) is None


def test_missing_socket_says_daemon_not_running(short_dir):
    client = api.DockerAPIClient(f"unix://{short_dir}/docker.sock")

    with pytest.raises(api.DaemonConnectionError) as raised:
        client.version()

    assert f"Docker daemon is not running or its socket {short_dir}/docker.sock does not exist" in str(raised.value)


def test_socket_without_listener_is_connection_refused(short_dir):
    path = os.path.join(short_dir, "docker.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # bound but not listening: connect() gets ECONNREFUSED, like a stale socket file
    try:
        with pytest.raises(api.DaemonConnectionError) as raised:
            api.DockerAPIClient("unix://" + path).version()
    finally:
        stale.close()

    assert "Docker daemon is not running" in str(raised.value)
    assert "Connection refused" in str(raised.value)


def test_permission_denied_explains_docker_group_and_become(docker_api, monkeypatch):
    def denied(self, address):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(socket.socket, "connect", denied)

    with pytest.raises(api.DaemonConnectionError) as raised:
        api.DockerAPIClient(docker_api.docker_host).version()

    assert "Permission denied on the Docker socket" in str(raised.value)
    assert "'docker' group" in str(raised.value)
    assert "become: true" in str(raised.value)


def test_timeout_when_the_daemon_does_not_answer(short_dir):
    path = os.path.join(short_dir, "docker.sock")
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(path)
    silent.listen(1)
    accepted = []

    def accept_and_stay_silent():
        try:
            accepted.append(silent.accept())
        except OSError:
            pass  # listener closed by the test

    threading.Thread(target=accept_and_stay_silent, daemon=True).start()
    try:
        with pytest.raises(api.DaemonConnectionError) as raised:
            api.DockerAPIClient("unix://" + path, timeout=1).version()
    finally:
        silent.close()

    assert "Timed out after 1s" in str(raised.value)


@pytest.mark.parametrize("docker_host", ["tcp://127.0.0.1:2375", "ssh://user@host", "unix://relative.sock", "npipe:////./pipe/docker"])
def test_only_unix_sockets_are_accepted(docker_host):
    with pytest.raises(api.DockerAPIError) as raised:
        api.DockerAPIClient(docker_host)

    assert "only local UNIX sockets" in str(raised.value)


def test_injected_connection_factory_is_used(docker_api):
    made = []

    def factory():
        made.append(1)
        return api.UnixHTTPConnection(docker_api.socket_path, timeout=5)

    client = api.DockerAPIClient("unix:///nonexistent/docker.sock", connection_factory=factory)

    assert client.list_images() == []
    assert len(made) == 2  # /version, then /images/json


def test_image_names_stay_readable_in_paths(docker_api):
    api.DockerAPIClient(docker_api.docker_host).inspect_image("quay.io/centos7/httpd-24-centos7:latest")

    assert docker_api.requests[-1][1] == "/images/quay.io/centos7/httpd-24-centos7:latest/json"


# Messages recorded from dockerd 20.10.24 (fixtures) and, where marked, SYNTHETIC ones.
@pytest.mark.parametrize("message, kind, transient", [
    (CAPTURES["pull_missing_tag"]["body"], "manifest_unknown", False),
    (CAPTURES["distribution_missing_tag"]["body"], "manifest_unknown", False),
    (CAPTURES["pull_no_credentials"]["body"], "unauthorized", False),
    (CAPTURES["pull_bad_credentials"]["body"], "unauthorized", False),
    (CAPTURES["pull_connection_refused"]["body"], "registry_unreachable", True),
    (CAPTURES["pull_no_such_host"]["body"], "registry_unreachable", False),
    (CAPTURES["pull_uppercase"]["body"], "invalid_reference", False),
    (CAPTURES["pull_busybox_platform_missing"]["body"], "platform_unavailable", False),
    # SYNTHETIC (wording from public reports of Docker Hub / registry failures)
    (("pull access denied for nosuch, repository does not exist or may require 'docker login': denied: "
     "requested access to the resource is denied"), "repository_not_found", False),
    ("toomanyrequests: You have reached your pull rate limit.", "rate_limited", True),
    ("Get \"https://quay.io/v2/\": net/http: TLS handshake timeout", "registry_unreachable", True),
    ("Get \"https://quay.io/v2/\": dial tcp 1.2.3.4:443: i/o timeout", "registry_unreachable", True),
    ("received unexpected HTTP status: 502 Bad Gateway", "registry_error", True),
    ("something else entirely", "error", False),
])
def test_classify_daemon_messages(message, kind, transient):
    assert classify(message) == (kind, transient)


def test_describe_keeps_the_daemon_message():
    text = describe("busybox:nope", "manifest unknown: manifest unknown")

    assert text.startswith("busybox:nope: the tag or digest does not exist")
    assert text.endswith("daemon said: manifest unknown: manifest unknown")


def test_describe_does_not_quote_the_client_as_the_daemon():
    text = describe("busybox", "Connection to the Docker daemon broke during POST /images/create", "daemon")

    assert text == ("busybox: the Docker daemon could not be used -- "
                    "Connection to the Docker daemon broke during POST /images/create")

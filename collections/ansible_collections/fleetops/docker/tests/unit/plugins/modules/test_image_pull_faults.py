"""image_pull's ImagePuller under faults: one image's broken answer must not lose the others' results;
retries back off by doubling, capped, and stop at the overall deadline."""
from __future__ import annotations

import http.client
from types import SimpleNamespace

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _docker_api as api,
)
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _image_reference as refs,
)
from ansible_collections.fleetops.docker.plugins.modules import image_pull


def request_for(name, pull="always"):
    reference = refs.parse_docker_ref(name)
    return SimpleNamespace(name=name, reference=reference, source=reference, platform=None, pull=pull,
                           local_ref=str(reference), mirrored=False)


class StubClient:
    """Answers per image; `faults[name]` is raised by inspect_image for that image."""

    def __init__(self, faults=None, pull_errors=None, remaining=None):
        self.faults = faults or {}
        self.pull_errors = list(pull_errors or [])
        self.pulled = []
        self._remaining = remaining

    def remaining(self):
        return self._remaining() if callable(self._remaining) else self._remaining

    def inspect_image(self, ref):
        fault = self.faults.get(ref)
        if fault:
            raise fault
        if ref in self.pulled:
            return {"Id": "sha256:" + "1" * 64, "Os": "linux", "Architecture": "amd64", "RepoDigests": []}
        return None

    def pull_stream(self, name, tag, platform=None, auth_header=None):
        if self.pull_errors:
            raise self.pull_errors.pop(0)
        self.pulled.append(f"{name}:{tag}")


@pytest.mark.parametrize("fault", [
    http.client.IncompleteRead(b'{"Id"', 300),
    api.DaemonConnectionError("Connection to the Docker daemon broke while reading the answer"),
    AttributeError("'list' object has no attribute 'get'"),
])
def test_one_broken_answer_keeps_every_other_images_result(fault):
    names = ["busybox", "alpine", "quay.io/org/app:1"]
    client = StubClient(faults={"docker.io/library/alpine:latest": fault})

    results = image_pull.ImagePuller(client, {}, retries=0).run([request_for(n) for n in names], concurrency=3)

    by_name = {r["name"]: r for r in results}
    assert [r["name"] for r in results] == names
    assert by_name["busybox"]["action"] == "pulled" and by_name["busybox"]["failed"] is False
    assert by_name["quay.io/org/app:1"]["action"] == "pulled"
    assert by_name["alpine"]["failed"] is True and by_name["alpine"]["action"] == "failed"
    assert by_name["alpine"]["msg"].startswith("alpine:latest: ")
    assert "Traceback" not in by_name["alpine"]["msg"]


TRANSIENT = api.DockerAPIError("received unexpected HTTP status: 503 Service Unavailable")


def test_backoff_doubles_and_is_capped():
    sleeps = []
    client = StubClient(pull_errors=[TRANSIENT] * 9)

    result = image_pull.ImagePuller(client, {}, retries=9, retry_delay=2.0, sleep=sleeps.append).process(request_for("busybox"))

    assert result["action"] == "pulled", result["msg"]
    assert result["attempts"] == 10
    assert sleeps == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0]


def test_backoff_of_a_huge_retry_count_does_not_overflow():
    assert image_pull.backoff_delay(2.0, 10_000) == image_pull.MAX_RETRY_DELAY
    assert image_pull.backoff_delay(0.5, 0) == 0.5
    assert image_pull.backoff_delay(0.5, 1) == 1.0


def test_retries_stop_when_the_next_wait_would_pass_the_deadline():
    sleeps = []
    client = StubClient(pull_errors=[TRANSIENT] * 5, remaining=lambda: 10.0 - sum(sleeps))

    result = image_pull.ImagePuller(client, {}, retries=5, retry_delay=2.0, sleep=sleeps.append).process(request_for("busybox"))

    assert sleeps == [2.0, 4.0]  # 8 s more would pass the 10 s left
    assert result["failed"] is True and result["error_kind"] == "registry_error"
    assert result["attempts"] == 3

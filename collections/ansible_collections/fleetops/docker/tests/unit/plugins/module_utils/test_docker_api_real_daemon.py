"""DockerAPIClient against the REAL dockerd at /var/run/docker.sock; read-only calls only.

Skipped when the socket does not answer. Nothing is pulled, tagged or removed.
"""
from __future__ import annotations

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import _docker_api as api
from ansible_collections.fleetops.docker.plugins.module_utils._image_errors import (
    classify,
)

REAL_SOCKET = "unix:///var/run/docker.sock"


def _real_client():
    client = api.DockerAPIClient(REAL_SOCKET, timeout=30)
    try:
        client.version()
    except api.DockerAPIError as exc:
        pytest.skip(f"real Docker daemon not available: {exc}")
    return client


@pytest.fixture(scope="module")
def client():
    return _real_client()


def test_version_is_negotiated(client):
    version = client.version()

    assert api.version_tuple(client.api_version) <= api.version_tuple(version["ApiVersion"])
    assert api.version_tuple(client.api_version) <= api.version_tuple(api.MAX_API_VERSION)
    assert version["Os"] == "linux"


def test_image_list_is_a_list_of_engine_summaries(client):
    images = client.list_images()

    assert isinstance(images, list)
    for image in images:
        assert image["Id"].startswith("sha256:")


def test_inspect_of_an_absent_image_is_none(client):
    assert client.inspect_image("fleetops-test/definitely-absent:never") is None


def test_distribution_on_an_unresolvable_registry_gives_the_daemon_error(client):
    with pytest.raises(api.DockerAPIError) as raised:
        client.distribution("registry.fleetops-nonexistent.invalid/x:latest")

    assert raised.value.status == 500
    assert "registry.fleetops-nonexistent.invalid" in raised.value.daemon_message
    assert classify(raised.value.daemon_message)[0] == "registry_unreachable"

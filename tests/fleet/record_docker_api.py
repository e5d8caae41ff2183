#!/usr/bin/env python3
"""Record a dockerd's real Engine API answers as a unit-test fixture (standard library only).

Runs ON a converged test host, against its dockerd and the fleet's registry stand-ins; it removes and pulls the
fixture images there, so use a host made for it:

    docker exec -i HOST python3 - [API_VERSION] < tests/fleet/record_docker_api.py > fixture.json

Writes {"_source": ..., name: {method, path, status, content_type, body}} like
collections/.../tests/unit/plugins/fixtures/docker_api_dockerd_20.10.json. With the containerd image store it
also records, under "containerd_content", the index, manifests and blob list of busybox from containerd's
content store (what the modules read to list the platforms present).
"""
import base64
import http.client
import json
import os
import socket
import sys

SOCKET = "/var/run/docker.sock"
CONTENT = "/var/lib/containerd/io.containerd.content.v1.content/blobs/sha256"
PINNED = "sha256:9e8f6b9f46ac032e154370e40789d89758309e101d36ba083bec8723be38949c"
PRIVATE = ("fleet", "fleet-test-password")


class UnixConnection(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=120)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(SOCKET)


def call(method, path, headers=None):
    conn = UnixConnection()
    conn.request(method, path, headers=dict({"Host": "docker"}, **(headers or {})))
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    return {"method": method, "path": path, "status": resp.status,
            "content_type": resp.getheader("Content-Type"), "body": body}


def auth(username, password, server):
    doc = json.dumps({"username": username, "password": password, "serveraddress": server}).encode()
    return {"X-Registry-Auth": base64.urlsafe_b64encode(doc).decode()}


def blob(digest):
    path = os.path.join(CONTENT, digest.split(":", 1)[1])
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def main():
    version = json.loads(call("GET", "/version")["body"])
    api = sys.argv[1] if len(sys.argv) > 1 else version["ApiVersion"]
    info = json.loads(call("GET", f"/v{api}/info")["body"])
    driver_status = dict(info.get("DriverStatus") or [])
    containerd = driver_status.get("driver-type") == "io.containerd.snapshotter.v1"
    v = f"/v{api}"
    for name in ["busybox", "alpine", "fleetops/arm64-only", "fleetops/pinned:1.0", f"fleetops/pinned@{PINNED}",
                 "quay.io/fleetops/pinned:1.0", "private.fleet.test/fleetops/private:1.0"]:
        call("DELETE", f"{v}/images/{name}?force=1")
    out = {"_source": (
        f"CAPTURED (not hand-written): real answers of dockerd {version['Version']} (Debian 13 trixie, Engine API "
        f"{version['ApiVersion']}, {'containerd image store (containerd-snapshotter)' if containerd else 'classic store'}, "
        f"storage driver {info.get('Driver')}) on {SOCKET}, recorded over /v{api} with http.client by "
        "tests/fleet/record_docker_api.py on a fleet test host. Registry: the fleet's stand-ins (Debian "
        "docker-registry) as a docker.io mirror (registry.fleet.test) and private.fleet.test (htpasswd, user fleet); "
        "images are the fixtures of tests/fleet/fixtures.py. Daemon-internal paths are as recorded.")}
    steps = [
        ("version", "GET", "/version", None),
        ("version_too_new", "GET", "/v1.99/version", None),
        ("pull_pinned_first", "POST", f"{v}/images/create?fromImage=fleetops/pinned&tag=1.0", None),
        ("pull_pinned_again", "POST", f"{v}/images/create?fromImage=fleetops/pinned&tag=1.0", None),
        ("inspect_pinned", "GET", f"{v}/images/fleetops/pinned:1.0/json", None),
        ("tag_pinned_canonical", "POST", f"{v}/images/fleetops/pinned:1.0/tag?repo=quay.io/fleetops/pinned&tag=1.0",
         None),
        ("pull_busybox", "POST", f"{v}/images/create?fromImage=busybox&tag=latest", None),
        ("inspect_busybox", "GET", f"{v}/images/busybox:latest/json", None),
        ("pull_busybox_arm64", "POST", f"{v}/images/create?fromImage=busybox&tag=latest&platform=linux/arm64", None),
        ("inspect_busybox_after_arm64", "GET", f"{v}/images/busybox:latest/json", None),
        ("pull_busybox_amd64_again", "POST", f"{v}/images/create?fromImage=busybox&tag=latest&platform=linux/amd64",
         None),
        # quay.io is the registry itself (no mirror, so no fallback to Docker Hub, which is unreachable here)
        ("pull_busybox_platform_missing", "POST",
         f"{v}/images/create?fromImage=quay.io/library/busybox&tag=latest&platform=linux/s390x", None),
        ("pull_arm64_only", "POST", f"{v}/images/create?fromImage=fleetops/arm64-only&tag=latest", None),
        ("inspect_arm64_only", "GET", f"{v}/images/fleetops/arm64-only:latest/json", None),
        ("inspect_missing", "GET", f"{v}/images/nonexistent:latest/json", None),
        ("images_list", "GET", f"{v}/images/json", None),
        ("distribution_busybox_index", "GET", f"{v}/distribution/busybox:latest/json", None),
        ("distribution_arm64_only", "GET", f"{v}/distribution/fleetops/arm64-only:latest/json", None),
        ("distribution_pinned", "GET", f"{v}/distribution/fleetops/pinned:1.0/json", None),
        ("distribution_missing_tag", "GET", f"{v}/distribution/quay.io/fleetops/pinned:nope/json", None),
        ("distribution_no_credentials", "GET", f"{v}/distribution/private.fleet.test/fleetops/private:1.0/json", None),
        ("distribution_no_such_host", "GET", f"{v}/distribution/registry.nonexistent.invalid/x:latest/json", None),
        ("pull_missing_tag", "POST", f"{v}/images/create?fromImage=quay.io/fleetops/pinned&tag=nope", None),
        ("pull_missing_repository", "POST", f"{v}/images/create?fromImage=quay.io/fleetops/does-not-exist&tag=latest",
         None),
        ("pull_no_credentials", "POST", f"{v}/images/create?fromImage=private.fleet.test/fleetops/private&tag=1.0",
         None),
        ("pull_bad_credentials", "POST", f"{v}/images/create?fromImage=private.fleet.test/fleetops/private&tag=1.0",
         auth("fleet", "wrong-password", "private.fleet.test")),
        ("pull_good_credentials", "POST", f"{v}/images/create?fromImage=private.fleet.test/fleetops/private&tag=1.0",
         auth(*PRIVATE, "private.fleet.test")),
        ("pull_uppercase", "POST", f"{v}/images/create?fromImage=Busybox&tag=latest", None),
        ("pull_connection_refused", "POST", f"{v}/images/create?fromImage=localhost:1/nothing&tag=latest", None),
        ("pull_no_such_host", "POST", f"{v}/images/create?fromImage=registry.nonexistent.invalid/x&tag=latest", None),
    ]
    for key, method, path, headers in steps:
        out[key] = call(method, path, headers)
    out["info_driver"] = {"Driver": info.get("Driver"), "DriverStatus": info.get("DriverStatus")}
    if containerd:
        index_digest = json.loads(out["inspect_busybox"]["body"])["Id"]
        index = blob(index_digest)
        manifests = {m["digest"]: blob(m["digest"]) for m in index["manifests"]}
        present = sorted("sha256:" + name for name in os.listdir(CONTENT))
        out["containerd_content"] = {"busybox_index_digest": index_digest, "busybox_index": index,
                                     "busybox_manifests": manifests, "blobs_present": present}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

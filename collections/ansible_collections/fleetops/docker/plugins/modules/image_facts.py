# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: image_facts
short_description: Gather facts about local Docker images and check they fit the host's platform
description:
  - Reads local images through the Docker Engine API (GET /images/{name}/json) and reports, for each,
    id, tags, digests, os, architecture, variant, size and creation time, or V(present=false).
  - Compares each image's platform with the host's (from C(uname), normalized like containerd, so
    C(x86_64) is C(amd64) and C(aarch64) is C(arm64/v8)) and gives a per-host verdict.
  - With O(remote=true) also asks the registry, without pulling, for the top-level digest and the
    platforms it offers (GET /distribution/{name}/json), and whether each of O(readiness_platforms) could run
    the image (the data of an arm64 readiness report).
  - Read-only; runs the same in check mode.
attributes:
  check_mode:
    support: full
    description:
      - Read-only; gives the same facts in check mode.
      - When the daemon is not reachable in check mode (a fresh host whose engine the same run would install),
        the requested images are reported as missing with a warning instead of failing.
  diff_mode:
    support: N/A
    description: Changes nothing, so there is no diff.
  facts:
    support: full
    description: Sets C(docker_images) and C(docker_images_host) in C(ansible_facts).
options:
  images:
    description:
      - References to report on. Each item is a reference string or a dict with the keys M(fleetops.docker.image_pull)
        takes, C(name) (required), C(platform) and C(pull); they are validated the same way and any other key is an
        error. C(platform) and C(pull) do not change the facts. When empty, every local image is reported.
    type: list
    elements: raw
    default: []
  remote:
    description: Also report the registry's digest and offered platforms for each reference.
    type: bool
    default: false
  readiness_platforms:
    description:
      - With O(remote=true), the platforms to judge each image's registry offer against (C(remote.runs_on)),
        with the same compatibility rule as the host verdict. Aliases such as C(aarch64) are normalized.
    type: list
    elements: str
    default: [linux/amd64, linux/arm64/v8]
    version_added: 1.1.0
  fail_on_incompatible:
    description: Fail, naming each image and its platform, when a present image does not fit the host.
    type: bool
    default: false
  allow_32bit:
    description:
      - Treat C(386) images as compatible with C(amd64) hosts and C(arm/v5)-C(arm/v7) images with C(arm64)
        hosts (containerd's fallbacks). Off by default since many 64-bit ARM CPUs cannot run 32-bit code.
    type: bool
    default: false
extends_documentation_fragment:
  - fleetops.docker.docker_api
  - fleetops.docker.docker_api.registry
seealso:
  - module: fleetops.docker.image_pull
author:
  - fleetops engineering (@fleetops)
"""

EXAMPLES = r"""
- name: Facts for the fleet's images, failing on any that cannot run here
  fleetops.docker.image_facts:
    images: [busybox, alpine, quay.io/centos7/httpd-24-centos7, fleetops/arm64-only:latest]
    fail_on_incompatible: true

- name: What the registry offers, without pulling
  fleetops.docker.image_facts:
    images: [busybox]
    remote: true
  register: busybox_facts

- name: Show the architecture of every local image
  ansible.builtin.debug:
    msg: "{{ item.key }} is {{ item.value.platform }}"
  loop: "{{ ansible_facts.docker_images | dict2items }}"
"""

RETURN = r"""
images:
  description:
    - Image facts keyed by the familiar reference (C(busybox:latest)); also set as C(ansible_facts.docker_images).
    - C(platform) (and C(os), C(architecture), C(variant), C(compatible)) is the platform the host would run;
      C(platforms) lists every platform present locally under the name. The classic store (C(image_store=classic))
      keeps one; the containerd image store (C(image_store=containerd)) keeps each platform pulled, and its image
      C(id) is the digest of the registry's index (or manifest), not of the image config.
  returned: always
  type: dict
  sample:
    "fleetops/arm64-only:latest":
      name: fleetops/arm64-only:latest
      reference: docker.io/fleetops/arm64-only:latest
      present: true
      id: sha256:3464c26bb79fe7e16759080c5e63204951601db405cd9485fffdaefdd3a5ec17
      repo_tags: ["fleetops/arm64-only:latest"]
      repo_digests: ["fleetops/arm64-only@sha256:db671735cf1f0875da15b9502509224f799257bf3505bf63074098afef2c6377"]
      os: linux
      architecture: arm64
      variant: v8
      platform: linux/arm64/v8
      platforms: [linux/arm64/v8]
      image_store: classic
      size: 11
      created: "2024-01-01T00:00:00Z"
      compatible: false
      remote:
        digest: sha256:db671735cf1f0875da15b9502509224f799257bf3505bf63074098afef2c6377
        media_type: application/vnd.docker.distribution.manifest.v2+json
        platforms: [linux/arm64/v8]
        architectures: [arm64]
        offers_host_platform: false
        runs_on: {linux/amd64: false, linux/arm64/v8: true}
        error: null
host_platform:
  description: The host's platform, os/arch[/variant].
  returned: always
  type: str
  sample: linux/amd64
all_compatible:
  description: True when every present image fits the host platform.
  returned: always
  type: bool
incompatible:
  description: Familiar references of present images that do not fit the host.
  returned: always
  type: list
  elements: str
  sample: ["fleetops/arm64-only:latest"]
missing:
  description: Requested references not present locally.
  returned: always
  type: list
  elements: str
ansible_facts:
  description: C(docker_images) (same as RV(images)) and C(docker_images_host) (host_platform, all_compatible,
    incompatible, missing).
  returned: always
  type: dict
"""

from ansible_collections.fleetops.docker.plugins.module_utils import (
    _image_reference as refs,
)
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _platforms as platforms,
)
from ansible_collections.fleetops.docker.plugins.module_utils._docker_api import (
    DaemonConnectionError,
    DockerAPIClient,
    DockerAPIError,
)
from ansible_collections.fleetops.docker.plugins.module_utils._image_options import (
    daemon_down_in_check_mode,
    image_module,
    local_request,
)
from ansible_collections.fleetops.docker.plugins.module_utils._image_views import (
    image_view,
)
from ansible_collections.fleetops.docker.plugins.module_utils._registry_auth import (
    RegistryAuthError,
)


class ImageFacts:
    """Collect facts for requested references (or all local images) and judge them against the host."""

    def __init__(self, client, host, allow_32bit=False, remote=False, mirrors=None, auth=None, readiness=()):
        self.client = client
        self.readiness = readiness
        self.host = host
        self.allow_32bit = allow_32bit
        self.remote = remote
        self.mirrors = mirrors or {}
        self.auth = auth

    def for_references(self, requests):
        return [(request, self.client.inspect_image(request.local_ref)) for request in requests]

    def for_all_local(self):
        found = []
        for summary in self.client.list_images():
            image = self.client.inspect_image(summary["Id"]) or summary
            tags = [tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"]
            reference = refs.normalize(tags[0]) if tags else None
            name = reference.familiar if reference else image["Id"]
            found.append((local_request(name, reference, self.mirrors), image))
        return found

    def entry(self, request, image):
        reference = request.reference
        entry = {"name": request.name, "reference": str(reference) if reference else None, "present": bool(image)}
        if image:
            entry.update(image_view(image))
            entry["compatible"] = platforms.compatible(platforms.from_image(image), self.host, self.allow_32bit)
        else:
            entry.update(id=None, repo_tags=[], repo_digests=[], os=None, architecture=None, variant=None,
                         platforms=[], image_store=None,
                         platform=None, size=None, created=None, compatible=None)
        if self.remote and reference:
            entry["remote"] = self.remote_entry(request.source)
        return entry

    def remote_entry(self, source):
        try:
            answer = self.client.distribution(str(source), self.auth.header_for(source.domain)) or {}
        except (DockerAPIError, RegistryAuthError) as exc:
            return {"digest": None, "media_type": None, "platforms": [], "architectures": [],
                    "offers_host_platform": None, "runs_on": {},
                    "error": getattr(exc, "daemon_message", None) or str(exc)}
        descriptor = answer.get("Descriptor") or {}
        offered = platforms.offered_platforms(answer)
        return {"digest": descriptor.get("digest"), "media_type": descriptor.get("mediaType"),
                "platforms": [str(p) for p in offered],
                "architectures": sorted({p.architecture for p in offered}),
                "offers_host_platform": any(platforms.compatible(p, self.host, self.allow_32bit) for p in offered),
                "runs_on": {str(target): any(platforms.compatible(p, target, self.allow_32bit) for p in offered)
                            for target in self.readiness} if offered else {},
                "error": None}

    def gather(self, requests):
        rows = self.for_references(requests) if requests else self.for_all_local()
        images = {request.key: self.entry(request, image) for request, image in rows}
        incompatible = [key for key, entry in images.items() if entry["compatible"] is False]
        missing = [key for key, entry in images.items() if not entry["present"]]
        verdict = {"host_platform": str(self.host), "all_compatible": not incompatible,
                   "incompatible": incompatible, "missing": missing}
        return images, verdict


def incompatible_message(images, verdict):
    details = ["{} is {}, host is {}".format(key, images[key]["platform"], verdict["host_platform"])
               for key in verdict["incompatible"]]
    return "Images that cannot run on this host ({}): {}".format(verdict["host_platform"], "; ".join(details))


def main():
    argument_spec = {
        "images": {"type": "list", "elements": "raw", "default": []},
        "remote": {"type": "bool", "default": False},
        "readiness_platforms": {"type": "list", "elements": "str", "default": ["linux/amd64", "linux/arm64/v8"]},
        "fail_on_incompatible": {"type": "bool", "default": False},
        "allow_32bit": {"type": "bool", "default": False},
    }
    host = platforms.host_platform()
    module, requests, mirrors, auth = image_module(argument_spec, host=host)
    params = module.params
    try:
        readiness = [platforms.parse(text, host=host) for text in params["readiness_platforms"]]
    except platforms.PlatformError as exc:
        module.fail_json(msg=f"readiness_platforms: {exc}")
    try:
        client = DockerAPIClient(params["docker_host"], params["timeout"], deadline=params["deadline"])
        facts = ImageFacts(client, host, params["allow_32bit"], params["remote"], mirrors, auth, readiness)
        images, verdict = facts.gather(requests)
    except DaemonConnectionError as exc:
        daemon_down_in_check_mode(module, exc, "the requested images as missing", allowed=bool(requests))
        images = {request.key: facts.entry(request, None) for request in requests}
        verdict = {"host_platform": str(host), "all_compatible": True, "incompatible": [], "missing": list(images)}
    except DockerAPIError as exc:
        module.fail_json(msg=str(exc))

    output = dict(changed=False, images=images, **verdict)
    output["ansible_facts"] = {"docker_images": images, "docker_images_host": verdict}
    if params["fail_on_incompatible"] and verdict["incompatible"]:
        module.fail_json(msg=incompatible_message(images, verdict), **output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()

# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: image_pull
short_description: Pull many Docker images concurrently through the Engine API
description:
  - Pulls a list of images in one task, several at a time, through the Docker Engine API on the
    daemon's UNIX socket (no docker CLI, no Python SDK).
  - References are validated and normalized exactly like docker does (C(busybox) is
    C(docker.io/library/busybox:latest)) before the daemon is contacted.
  - Transient registry errors (connection reset or refused, TLS handshake or i/o timeouts, HTTP 429 and
    5xx) are retried with exponential backoff; permanent ones (unknown tag or repository, unauthorized,
    invalid reference, platform not offered) are not.
  - When some images fail, the others are still pulled, then the module fails and lists every failed
    image with the daemon's message. A failed pull never removes or retags an existing image.
  - Check mode asks the registry for each remote digest (GET /distribution/{name}/json), compares it
    with the local RepoDigests and reports what would change; nothing is pulled.
  - Before pulling an image without a requested platform, the platform guard asks the registry which platforms
    it offers and stops an image none of which runs on the host (see O(platform_guard)); dockerd itself pulls a
    single-platform image of another architecture without complaint, and the container then fails with
    C(exec format error).
attributes:
  check_mode:
    support: full
    description:
      - Asks the registry for each remote digest and reports which images would change; pulls nothing.
      - The platform guard uses the same registry answer, so check mode fails or skips the same images.
      - When the daemon is not reachable in check mode (a fresh host whose engine the same run would install),
        every image is reported as C(would_pull) with a warning instead of failing.
  diff_mode:
    support: full
    description: Shows the local image ID behind each reference before and after.
  idempotent:
    support: full
    description: Also with O(pull=always), V(changed) is only reported when the image ID behind a reference changed.
options:
  images:
    description:
      - Images to pull. Each item is a reference string (C(alpine:3.19), C(quay.io/org/app@sha256:...)) or a
        dict with C(name) (required), C(platform) and C(pull) overriding the module options for that image.
    type: list
    elements: raw
    required: true
  pull:
    description:
      - V(missing) pulls only images not present locally (or present for another platform than requested).
      - V(always) asks the registry every time; the result is still unchanged when the image ID stays the same.
    type: str
    choices: [missing, always]
    default: missing
  platform:
    description:
      - Platform to pull, C(os/arch[/variant]) such as C(linux/arm64/v8) or C(linux/amd64); aliases such as
        C(x86_64), C(aarch64) or C(armhf) are normalized. Default is the daemon's own platform.
      - If the registry does not offer it, the image fails with the list of platforms it does offer.
    type: str
  platform_guard:
    description:
      - What to do with an image pulled without a requested platform when none of the platforms the registry offers
        runs on the host (the compatibility rule of M(fleetops.docker.image_facts), same os and architecture and a
        compatible variant, with the host's platform from C(uname)).
      - V(fail) fails that image before it is pulled, naming the image, the host's platform and what the registry
        offers; the other images are still processed and the task fails.
      - V(skip) does not pull it and reports it as V(skipped), in RV(skipped_images) and as a warning whose text
        says why (C(not pulled) and C(no linux/arm64 variant)); the task succeeds.
      - V(off) pulls without asking, as dockerd would (one registry round trip less per image).
      - The guard costs one registry round trip (GET /distribution/{name}/json) per image that is about to be
        pulled without a platform; images already present with O(pull=missing) cost nothing.
      - The default is V(fail) because an image that cannot run on the host is a mistake that should surface
        where it is made, before anything lands, the way docker itself refuses a multi-platform image without a
        matching platform. Use V(skip) for one image list shared by a mixed amd64/arm64 fleet.
      - When the registry offers no platform information, the image is pulled.
    type: str
    choices: [fail, skip, "off"]
    default: fail
    version_added: 1.1.0
  concurrency:
    description: Number of images pulled at the same time.
    type: int
    default: 4
  retries:
    description: How many times a transient registry error is retried per image.
    type: int
    default: 3
  retry_delay:
    description: Seconds before the first retry; doubled for each further retry, up to 60 seconds.
    type: float
    default: 2.0
extends_documentation_fragment:
  - fleetops.docker.docker_api
  - fleetops.docker.docker_api.registry
seealso:
  - module: fleetops.docker.image_facts
author:
  - fleetops engineering (@fleetops)
"""

EXAMPLES = r"""
- name: Pull the fleet's base images, four at a time
  fleetops.docker.image_pull:
    images:
      - busybox
      - alpine:3.19
      - quay.io/centos7/httpd-24-centos7
      - name: fleetops/arm64-only:latest
        platform: linux/arm64/v8

- name: Always refresh, through an ECR pull-through cache for quay.io
  fleetops.docker.image_pull:
    images: [quay.io/centos7/httpd-24-centos7]
    pull: always
    registry_mirrors:
      quay.io: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/quay

- name: Private registry with credentials
  fleetops.docker.image_pull:
    images: [registry.example.com/team/app:1.4.2]
    registry_auth:
      - registry: registry.example.com
        username: deploy
        password: "{{ vault_registry_password }}"
"""

RETURN = r"""
images:
  description: One entry per requested image, in the order given.
  returned: always
  type: list
  elements: dict
  sample:
    - name: busybox
      reference: docker.io/library/busybox:latest
      familiar: busybox:latest
      source: docker.io/library/busybox:latest
      action: pulled
      changed: true
      failed: false
      id: sha256:c21044793b828e9f2f017aad2dbb222d748ea33c34eb34c6b9ced43a61620303
      previous_id: null
      repo_digest: sha256:75a8ff18ed9347325ea3a20fe667a4fca75c24eb30b16def949e20b7c3ae4bfa
      remote_digest: null
      platform: linux/amd64
      platforms: [linux/amd64]
      requested_platform: null
      attempts: 1
      seconds: 2.41
      msg: ""
  contains:
    name:
      description: "The item as given."
      type: str
    reference:
      description: "Normalized reference; a digest wins over a tag, like docker."
      type: str
    familiar:
      description: "Short form as the docker CLI shows it."
      type: str
    source:
      description: "Reference actually pulled; differs when a mirror is used."
      type: str
    action:
      description: "V(pulled), V(unchanged), V(would_pull) (check mode), V(skipped) (O(platform_guard=skip))
        or V(failed)."
      type: str
    changed:
      description: "Whether the local image ID behind the reference changed (or would)."
      type: bool
    failed:
      description: "Whether this image failed."
      type: bool
    id:
      description: "Local image ID afterwards, null when absent."
      type: str
    previous_id:
      description: "Local image ID before the task."
      type: str
    repo_digest:
      description: "Registry digest recorded locally for the pulled repository."
      type: str
    remote_digest:
      description: "Digest the registry reported (check mode and platform checks)."
      type: str
    platform:
      description: "Platform of the local image afterwards, os/arch[/variant]: the requested one, else the one the
        host would run."
      type: str
    platforms:
      description: "Every platform present locally under the reference afterwards. One with the classic store; the
        containerd image store keeps each platform pulled, and a pull that adds one is a change although the ID
        (the index digest) stays the same."
      type: list
      elements: str
    requested_platform:
      description: "Platform asked for, normalized."
      type: str
    attempts:
      description: "Attempts of the last registry operation (pull, or the digest query in check mode), at most O(retries) + 1."
      type: int
    seconds:
      description: "Time spent on this image."
      type: float
    error_kind:
      description: "On failure one of V(invalid_reference), V(manifest_unknown), V(repository_not_found),
        V(unauthorized), V(platform_unavailable), V(registry_unreachable), V(registry_error), V(rate_limited),
        V(daemon) or V(error)."
      type: str
    msg:
      description: "Error message for a failed image, the reason for a skipped one, else empty."
      type: str
summary:
  description: Counts over all images.
  returned: always
  type: dict
  sample: {total: 3, pulled: 1, unchanged: 2, would_pull: 0, skipped: 0, failed: 0}
failed_images:
  description: Familiar references of the images that failed.
  returned: always
  type: list
  elements: str
skipped_images:
  description: Familiar references of the images the platform guard did not pull (O(platform_guard=skip)).
  returned: always
  type: list
  elements: str
  version_added: 1.1.0
"""

import math
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.fleetops.docker.plugins.module_utils import (
    _platforms as platforms,
)
from ansible_collections.fleetops.docker.plugins.module_utils._docker_api import (
    DaemonConnectionError,
    DockerAPIClient,
    DockerAPIError,
)
from ansible_collections.fleetops.docker.plugins.module_utils._image_errors import (
    classify,
    describe,
)
from ansible_collections.fleetops.docker.plugins.module_utils._image_options import (
    PULL_POLICIES,
    daemon_down_in_check_mode,
    image_module,
)
from ansible_collections.fleetops.docker.plugins.module_utils._image_views import (
    image_view,
    repo_digests,
)
from ansible_collections.fleetops.docker.plugins.module_utils._registry_auth import (
    RegistryAuthError,
)

MAX_RETRY_DELAY = 60.0


def backoff_delay(retry_delay, attempt, cap=MAX_RETRY_DELAY):
    """Seconds to wait after failed attempt number `attempt` (0-based): doubled each time, at most `cap`."""
    return min(cap, retry_delay * 2 ** min(attempt, 32))


class ImageFailure(Exception):
    def __init__(self, message, kind):
        super().__init__(message)
        self.kind = kind


class ImageSkipped(Exception):
    """The platform guard (skip) decided not to pull an image."""


PLATFORM_GUARDS = ("fail", "skip", "off")


class ImagePuller:
    """Pull (or predict) one image request at a time; safe to run in several threads."""

    def __init__(self, client, auth_headers, check_mode=False, retries=3, retry_delay=2.0, sleep=time.sleep,
                 guard="off", host=None):
        self.client = client
        self.guard = guard
        self.host = host or platforms.host_platform()
        self.auth_headers = auth_headers
        self.check_mode = check_mode
        self.retries = retries
        self.retry_delay = retry_delay
        self.sleep = sleep

    def run(self, requests, concurrency):
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            return list(pool.map(self.process, requests))

    @staticmethod
    def new_result(request):
        return {"name": request.name, "reference": str(request.reference), "familiar": request.reference.familiar,
                "source": str(request.source), "requested_platform": str(request.platform or "") or None,
                "previous_id": None, "id": None, "platform": None, "platforms": [], "repo_digest": None, "remote_digest": None,
                "action": "unchanged", "changed": False, "failed": False, "attempts": 0, "error_kind": None,
                "msg": ""}

    def process(self, request):
        started = time.time()
        result = self.new_result(request)
        try:
            before = self.client.inspect_image(request.local_ref)
            result["previous_id"] = result["id"] = (before or {}).get("Id")
            self._describe_local(result, request, before)
            if request.pull == "missing" and before and self._platform_ok(request, before):
                pass
            elif self.check_mode:
                self._predict(result, request, before)
            else:
                self._pull(result, request)
        except ImageSkipped as exc:
            result.update(action="skipped", msg=str(exc))
        except ImageFailure as exc:
            result.update(failed=True, action="failed", msg=str(exc), error_kind=exc.kind)
        except DockerAPIError as exc:
            kind = "daemon" if isinstance(exc, DaemonConnectionError) else classify(exc.daemon_message)[0]
            message = describe(request.reference.familiar, exc.daemon_message, kind)
            result.update(failed=True, action="failed", msg=message, error_kind=kind)
        except Exception as exc:  # one image's unexpected error must not lose the other images' results
            result.update(failed=True, action="failed", error_kind="error",
                          msg=f"{request.reference.familiar}: unexpected {type(exc).__name__}: {exc}")
        result["seconds"] = round(time.time() - started, 3)
        return result

    def _describe_local(self, result, request, image):
        if image:
            view = image_view(image)
            wanted = [p for p in view["platforms"] if request.platform and platforms.matches(request.platform,
                                                                                             platforms.parse(p))]
            result.update(platform=wanted[0] if wanted else view["platform"], platforms=view["platforms"])
            digests = repo_digests(image, request.source.name)
            result["repo_digest"] = digests[0] if digests else None

    @staticmethod
    def _platform_ok(request, image):
        """The requested platform is present (the containerd image store may hold several under one name)."""
        return not request.platform or any(platforms.matches(request.platform, platforms.parse(p))
                                           for p in image_view(image)["platforms"])

    def _retrying(self, result, call, *args, **kwargs):
        for attempt in range(self.retries + 1):
            result["attempts"] = attempt + 1
            try:
                return call(*args, **kwargs)
            except DaemonConnectionError:
                raise
            except DockerAPIError as exc:
                if not classify(exc.daemon_message)[1] or attempt >= self.retries:
                    raise
                delay = backoff_delay(self.retry_delay, attempt)
                left = self.client.remaining()
                if left is not None and delay >= left:
                    raise
                self.sleep(delay)

    def _remote(self, result, request):
        """Ask the registry (through the daemon) for the digest and offered platforms."""
        answer = self._retrying(result, self.client.distribution, str(request.source),
                                self.auth_headers.get(request.source.domain))
        result["remote_digest"] = ((answer or {}).get("Descriptor") or {}).get("digest")
        offered = platforms.offered_platforms(answer or {})
        if request.platform and offered and not any(platforms.matches(request.platform, p) for p in offered):
            listed = ", ".join(str(p) for p in offered)
            raise ImageFailure(f"{request.reference.familiar}: the registry does not offer platform "
                               f"{request.platform}; it offers: {listed}", "platform_unavailable")
        if self._guarded(request) and offered and not any(platforms.compatible(p, self.host) for p in offered):
            self._refuse(request, offered)
        return result["remote_digest"]

    def _guarded(self, request):
        return self.guard != "off" and not request.platform

    def _refuse(self, request, offered):
        listed = ", ".join(str(p) for p in offered)
        if self.guard == "skip":
            raise ImageSkipped(f"{request.reference.familiar}: not pulled: no {self.host.os}/"
                               f"{self.host.architecture} variant (the registry offers {listed})")
        raise ImageFailure(f"{request.reference.familiar}: not pulled: none of the platforms the registry offers "
                           f"runs on this host ({self.host}); it offers: {listed} (platform_guard=fail)",
                           "platform_unavailable")

    def _predict(self, result, request, before):
        remote_digest = self._remote(result, request)
        local_digests = repo_digests(before, request.source.name) if before else []
        up_to_date = before and self._platform_ok(request, before) and remote_digest in local_digests
        if not up_to_date:
            result.update(action="would_pull", changed=True)

    def _pull(self, result, request):
        if request.platform or self._guarded(request):
            self._remote(result, request)
        source = request.source
        self._retrying(result, self.client.pull_stream, source.name, source.pull_tag,
                       platform=str(request.platform) if request.platform else None,
                       auth_header=self.auth_headers.get(source.domain))
        if request.mirrored and request.reference.tag:
            self.client.tag_image(str(source), request.reference.name, request.reference.tag)
        after = self.client.inspect_image(request.local_ref)
        if not after:
            raise ImageFailure(f"{request.reference.familiar}: the daemon reported a successful pull but the "
                               "image is not present", "error")
        before_platforms = result["platforms"]
        self._describe_local(result, request, after)
        result["id"] = after.get("Id")
        if not self._platform_ok(request, after):
            raise ImageFailure(f"{request.reference.familiar}: the daemon kept the {result['platform']} image "
                               f"although {request.platform} was requested", "platform_unavailable")
        # The containerd store keeps the index digest as ID when a pull adds a platform.
        if result["id"] != result["previous_id"] or sorted(result["platforms"]) != sorted(before_platforms):
            result.update(action="pulled", changed=True)


def summarize(results):
    counts = {"total": len(results), "pulled": 0, "unchanged": 0, "would_pull": 0, "skipped": 0, "failed": 0}
    for result in results:
        counts[result["action"]] += 1
    return counts


def resolve_auth_headers(requests, auth):
    headers = {}
    for domain in sorted({request.source.domain for request in requests}):
        headers[domain] = auth.header_for(domain)
    return headers


def main():
    argument_spec = {
        "images": {"type": "list", "elements": "raw", "required": True},
        "pull": {"type": "str", "choices": list(PULL_POLICIES), "default": "missing"},
        "platform": {"type": "str"},
        "platform_guard": {"type": "str", "choices": list(PLATFORM_GUARDS), "default": "fail"},
        "concurrency": {"type": "int", "default": 4},
        "retries": {"type": "int", "default": 3},
        "retry_delay": {"type": "float", "default": 2.0},
    }
    module, requests, _mirrors, auth = image_module(
        argument_spec, failure="Invalid images or options, nothing was pulled", checks=lambda params: [
            (params["concurrency"] < 1, f"concurrency must be 1 or more, got {params['concurrency']}"),
            (params["retries"] < 0, f"retries must be 0 or more, got {params['retries']}"),
            (not 0 <= params["retry_delay"] < math.inf, f"retry_delay must be 0 or more seconds, got {params['retry_delay']}"),
        ])
    params = module.params
    try:
        headers = resolve_auth_headers(requests, auth)
        client = DockerAPIClient(params["docker_host"], params["timeout"], deadline=params["deadline"])
        client.version()
        daemon_down = None
    except DaemonConnectionError as exc:
        daemon_down_in_check_mode(module, exc, "every image as would_pull")
        daemon_down = exc
    except (RegistryAuthError, DockerAPIError) as exc:
        module.fail_json(msg=str(exc))

    puller = ImagePuller(client, headers, module.check_mode, params["retries"], params["retry_delay"],
                         guard=params["platform_guard"])
    if daemon_down:
        results = [dict(puller.new_result(request), action="would_pull", changed=True, seconds=0.0)
                   for request in requests]
    else:
        results = puller.run(requests, params["concurrency"])
    summary = summarize(results)
    failed = [r for r in results if r["failed"]]
    output = {"changed": any(r["changed"] for r in results), "images": results, "summary": summary,
              "failed_images": [r["familiar"] for r in failed],
              "skipped_images": [r["familiar"] for r in results if r["action"] == "skipped"]}
    for result in results:
        if result["action"] == "skipped":
            module.warn(result["msg"])
    if module._diff:
        output["diff"] = {
            "before": {r["familiar"]: r["previous_id"] or "absent" for r in results},
            "after": {r["familiar"]: "(would pull)" if r["action"] == "would_pull" else r["id"] or "absent"
                      for r in results},
        }
    if failed:
        details = "; ".join(r["msg"] for r in failed)
        module.fail_json(msg=f"Failed to pull {len(failed)} of {len(results)} images (the others were processed): "
                             f"{details}", **output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()

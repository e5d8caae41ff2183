# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What image_pull and image_facts share: the `images` option, mirrors, registry auth, local image views."""


from collections import namedtuple

from ansible_collections.fleetops.docker.plugins.module_utils import (
    _image_reference as refs,
)
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _platforms as platforms,
)
from ansible_collections.fleetops.docker.plugins.module_utils._registry_auth import (
    RegistryAuth,
    module_runner,
)

PULL_POLICIES = ("missing", "always")
ITEM_KEYS = ("name", "platform", "pull")


class ImageRequest(namedtuple("ImageRequest", "name reference source platform pull")):
    """name: as given; reference: normalized; source: where it is pulled from (a mirror or itself)."""

    __slots__ = ()

    @property
    def local_ref(self):
        """What to inspect locally: the canonical name, unless a mirrored digest (untaggable) is asked for."""
        if self.source != self.reference and not self.reference.tag:
            return str(self.source)
        return str(self.reference)

    @property
    def mirrored(self):
        return self.source != self.reference


def canonical_domain(domain):
    domain = (domain or "").strip().lower()
    return refs.DEFAULT_DOMAIN if domain == refs.LEGACY_DEFAULT_DOMAIN else domain


def parse_mirrors(mirrors):
    """{registry: 'host[:port][/prefix]'} -> {registry: (host, prefix)}; raises ValueError."""
    result = {}
    for registry, target in (mirrors or {}).items():
        target = str(target or "").strip().strip("/").split("://", 1)[-1]
        host, _sep, prefix = target.partition("/")
        probe = "{}/{}x".format(host, prefix + "/" if prefix else "")
        try:
            parsed = refs.parse(probe)
        except refs.ImageReferenceError:
            parsed = None
        if not parsed or parsed.domain != host or not ("." in host or ":" in host or host == "localhost"):
            raise ValueError(
                f"registry_mirrors[{registry!r}]={target!r} is not a registry host[:port][/path-prefix]")
        result[canonical_domain(registry)] = (host, prefix)
    return result


def source_for(reference, mirrors):
    """The reference to pull: same path under the mirror host (and its optional path prefix)."""
    mirror = mirrors.get(reference.domain)
    if not mirror:
        return reference
    host, prefix = mirror
    return reference.with_name(host, (prefix + "/" if prefix else "") + reference.path)


def _item_fields(item):
    if isinstance(item, str):
        return {"name": item}, None
    if isinstance(item, dict):
        unknown = sorted(set(item) - set(ITEM_KEYS))
        if unknown:
            return None, "unknown keys {} (allowed: {})".format(", ".join(unknown), ", ".join(ITEM_KEYS))
        if not isinstance(item.get("name"), str):
            return None, "'name' (a string) is required"
        return item, None
    return None, f"must be a string or a dict with name/platform/pull, got {type(item).__name__}"


def parse_items(items, platform=None, pull="missing", mirrors=None, host=None):
    """Validate every item; returns (requests, errors). Nothing here touches the daemon."""
    requests, errors, seen = [], [], {}
    for index, item in enumerate(items or [], start=1):
        fields, error = _item_fields(item)
        if error:
            errors.append(f"images[{index}]: {error}")
            continue
        try:
            reference = refs.parse_docker_ref(fields["name"])
            wanted = fields.get("platform") or platform
            wanted = platforms.parse(wanted, host=host) if wanted else None
            policy = fields.get("pull") or pull
            if policy not in PULL_POLICIES:
                raise ValueError("pull must be one of {}, got {!r}".format(", ".join(PULL_POLICIES), policy))
        except ValueError as exc:
            errors.append(f"images[{index}]: {exc}")
            continue
        request = ImageRequest(fields["name"], reference, source_for(reference, mirrors or {}), wanted, policy)
        previous = seen.get(str(reference))
        if previous is not None:
            if previous.platform != request.platform or previous.pull != request.pull:
                errors.append(f"images[{index}]: {reference.familiar} is listed twice with different "
                              "platform/pull settings")
            continue
        seen[str(reference)] = request
        requests.append(request)
    return requests, errors


def requests_from_params(module, platform=None, pull="missing", host=None, checks=(), failure="Invalid images or options"):
    """(requests, mirrors, auth) from the shared options; fails the module on any invalid one before the daemon is asked.

    checks: (is_bad, message) pairs for the calling module's own options."""
    params = module.params
    checks = list(checks) + [(params["timeout"] < 1, f"timeout must be 1 second or more, got {params['timeout']}")]
    try:
        mirrors = parse_mirrors(params["registry_mirrors"])
        requests, errors = parse_items(params["images"], platform, pull, mirrors, host)
    except ValueError as exc:
        mirrors, requests, errors = {}, [], [str(exc)]
    errors += [message for is_bad, message in checks if is_bad]
    if errors:
        module.fail_json(msg=f"{failure}: " + "; ".join(errors), errors=errors)
    return requests, mirrors, RegistryAuth(params["registry_auth"], params["docker_config"], runner=module_runner(module))


def daemon_down_in_check_mode(module, exc, reported, allowed=True):
    """Check mode on a fresh host (the same run would install the engine) warns instead of failing."""
    if not (module.check_mode and allowed):
        module.fail_json(msg=str(exc))
    module.warn(f"{exc} -- check mode reports {reported}.")


def repo_digests(image, repository):
    """Digests recorded locally for a repository name (RepoDigests entries are familiar names)."""
    found = []
    for entry in (image or {}).get("RepoDigests") or []:
        name, _sep, digest = entry.partition("@")
        if digest and refs.repository_of(name) == repository:
            found.append(digest)
    return found


def image_view(image):
    """The facts kept for a local image (GET /images/{name}/json)."""
    platform = platforms.from_image(image)
    return {
        "id": image.get("Id"),
        "repo_tags": image.get("RepoTags") or [],
        "repo_digests": image.get("RepoDigests") or [],
        "os": image.get("Os") or "",
        "architecture": image.get("Architecture") or "",
        "variant": image.get("Variant") or "",
        "platform": str(platform),
        "size": image.get("Size"),
        "created": image.get("Created"),
    }

# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options image_pull and image_facts share: the AnsibleModule they build, `images`, mirrors, registry auth."""


from collections import namedtuple

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _image_reference as refs,
)
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _platforms as platforms,
)
from ansible_collections.fleetops.docker.plugins.module_utils._docker_api import (
    DOCKER_HOST_ARGUMENT_SPEC,
    MAX_TIMEOUT,
)
from ansible_collections.fleetops.docker.plugins.module_utils._registry_auth import (
    REGISTRY_ARGUMENT_SPEC,
    RegistryAuth,
    timed_runner,
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

    @property
    def key(self):
        """How results are keyed: the familiar reference, or the name of an untagged local image."""
        return self.reference.familiar if self.reference else self.name


def local_request(name, reference, mirrors):
    """A request for an image found locally (reference None: untagged, known only by its ID)."""
    return ImageRequest(name, reference, source_for(reference, mirrors) if reference else None, None, None)


def canonical_domain(domain):
    domain = (domain or "").strip().lower()
    return refs.DEFAULT_DOMAIN if domain == refs.LEGACY_DEFAULT_DOMAIN else domain


def mirror_userinfo(mirrors):
    """The credentials ('user:password' and 'password') written into mirror URLs; they are not used, only hidden."""
    found = []
    for target in (mirrors or {}).values():
        netloc = str(target or "").strip().split("://", 1)[-1].split("/", 1)[0]
        if "@" in netloc:
            userinfo = netloc.rsplit("@", 1)[0]
            found += [userinfo] + [part for part in userinfo.split(":", 1)[1:] if part]
    return found


def parse_mirrors(mirrors):
    """{registry: 'host[:port][/prefix]'} -> {registry: (host, prefix)}; raises ValueError."""
    result = {}
    for registry, target in (mirrors or {}).items():
        target = str(target or "").strip().strip("/").split("://", 1)[-1]
        if "@" in target.split("/", 1)[0]:
            raise ValueError(f"registry_mirrors[{registry!r}] holds credentials (user:password@); give them in "
                             "registry_auth for the mirror host instead")
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


def image_module(argument_spec, host=None, checks=None, failure="Invalid images or options"):
    """Build the AnsibleModule from the module's own options plus the shared ones and parse the shared ones.

    Returns (module, requests, mirrors, auth); fails the module on any invalid option before the daemon is asked.
    The module's own `platform` and `pull` options, when it has them, are the defaults of every item.
    checks: params -> (is_bad, message) pairs for the module's own options."""
    spec = dict(argument_spec, **DOCKER_HOST_ARGUMENT_SPEC)
    spec.update(REGISTRY_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    module.no_log_values.update(mirror_userinfo(params["registry_mirrors"]))
    try:
        mirrors = parse_mirrors(params["registry_mirrors"])
        requests, errors = parse_items(params["images"], params.get("platform"), params.get("pull") or "missing",
                                       mirrors, host)
    except ValueError as exc:
        mirrors, requests, errors = {}, [], [str(exc)]
    own = list(checks(params)) if checks else []
    own.append((params["timeout"] < 1, f"timeout must be 1 second or more, got {params['timeout']}"))
    own.append((params["timeout"] > MAX_TIMEOUT, f"timeout must be at most {MAX_TIMEOUT} seconds, got {params['timeout']}"))
    own.append((params["deadline"] < 0, f"deadline must be 0 (no limit) or more seconds, got {params['deadline']}"))
    errors += [message for is_bad, message in own if is_bad]
    if errors:
        module.fail_json(msg=f"{failure}: " + "; ".join(errors), errors=errors)
    auth = RegistryAuth(params["registry_auth"], params["docker_config"], runner=timed_runner(params["timeout"]))
    return module, requests, mirrors, auth


def daemon_down_in_check_mode(module, exc, reported, allowed=True):
    """Check mode on a fresh host (the same run would install the engine) warns instead of failing."""
    if not (module.check_mode and allowed):
        module.fail_json(msg=str(exc))
    module.warn(f"{exc} -- check mode reports {reported}.")

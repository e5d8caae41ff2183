# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image references parsed and normalized exactly like docker's distribution/reference package.

Grammar (distribution/reference regexp.go)::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [domain '/'] remote-name
    domain     := host [':' port-number]
    tag        := /[\\w][\\w.-]{0,127}/
    digest     := algorithm ":" hex   (sha256/sha384/sha512 with 64/96/128 lower-case hex digits)

Normalization (normalize.go ParseNormalizedNamed + TagNameOnly):
``busybox`` -> ``docker.io/library/busybox:latest``; the first path element is a registry
domain only when it contains ``.`` or ``:``, is ``localhost``, or is not lower-case.
``index.docker.io`` is rewritten to ``docker.io``.
"""


import re
from collections import namedtuple

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_OPTIONAL_PORT = r"(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = _DOMAIN_NAME_COMPONENT + r"(?:\." + _DOMAIN_NAME_COMPONENT + r")*"
_HOST = r"(?:" + _DOMAIN_NAME + r"|" + _IPV6 + r")"
_DOMAIN_AND_PORT = _HOST + _OPTIONAL_PORT
_PATH_COMPONENT = _ALPHANUMERIC + r"(?:" + _SEPARATOR + _ALPHANUMERIC + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_NAME = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME

# re.ASCII: Go's RE2 \w is ASCII-only.
REFERENCE_RE = re.compile(r"^(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?$", re.ASCII)
ANCHORED_NAME_RE = re.compile(r"^(?:(" + _DOMAIN_AND_PORT + r")/)?(" + _REMOTE_NAME + r")$", re.ASCII)
ANCHORED_TAG_RE = re.compile(r"^" + _TAG + r"$", re.ASCII)
ANCHORED_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")
# go-digest: DigestRegexpAnchored and the encoded form of each registered algorithm.
GO_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
DIGEST_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}

ERR_NAME_EMPTY = "repository name must have at least one component"
ERR_INVALID_FORMAT = "invalid reference format"
ERR_UPPERCASE = "invalid reference format: repository name must be lowercase"
ERR_NAME_TOO_LONG = f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
ERR_DIGEST_FORMAT = "invalid checksum digest format"
ERR_DIGEST_UNSUPPORTED = "unsupported digest algorithm"

# Extra hints for frequent typos; docker's own message is always kept.
_HINTS = (
    (lambda s: s.endswith(":"), "the tag after ':' is empty (write name:tag, or omit ':' for 'latest')"),
    (lambda s: s.endswith("@"), "the digest after '@' is empty"),
    (lambda s: "://" in s, "an image reference has no URL scheme (write registry.example.com/repo:tag)"),
    (lambda s: s != s.strip() or " " in s, "the reference contains whitespace"),
    (lambda s: "@" in s and ":" not in s.split("@", 1)[1], "a digest needs an algorithm, e.g. @sha256:<64 hex digits>"),
    (lambda s: "@sha256:" in s and not re.search(r"@sha256:[a-f0-9]{64}$", s),
     "a sha256 digest has exactly 64 lower-case hex digits"),
)


class ImageReferenceError(ValueError):
    """A string is not a valid image reference."""

    def __init__(self, reference, reason):
        self.reference = reference
        self.reason = reason
        hints = [hint for test, hint in _HINTS if test(reference or "")]
        text = f"Invalid image reference {reference!r}: {reason}"
        if hints:
            text += " (" + "; ".join(hints) + ")"
        super().__init__(text)


class ImageReference(namedtuple("ImageReference", "domain path tag digest")):
    """A parsed reference; domain may be empty only for references not normalized."""

    __slots__ = ()

    @property
    def name(self):
        return self.domain + "/" + self.path if self.domain else self.path

    def _with_suffix(self, name):
        return name + (":" + self.tag if self.tag else "") + ("@" + self.digest if self.digest else "")

    def __str__(self):
        return self._with_suffix(self.name)

    @property
    def familiar_name(self):
        """The name as the docker CLI shows it: docker.io and library/ removed."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX):]:
            path = path[len(OFFICIAL_REPO_PREFIX):]
        return path

    @property
    def familiar(self):
        return self._with_suffix(self.familiar_name)

    @property
    def pull_tag(self):
        """The `tag` query value of POST /images/create: the digest wins, like the docker CLI."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_name(self, domain, path):
        return self._replace(domain=domain, path=path)


def validate_digest(digest):
    """go-digest Digest.Validate; returns an error text or None."""
    index = digest.find(":")
    if index <= 0 or index + 1 == len(digest):
        return ERR_DIGEST_FORMAT
    algorithm, encoded = digest[:index], digest[index + 1:]
    if algorithm not in DIGEST_ALGORITHMS:
        return ERR_DIGEST_UNSUPPORTED if GO_DIGEST_RE.match(digest) else ERR_DIGEST_FORMAT
    if not re.match(r"^[a-f0-9]{" + str(DIGEST_ALGORITHMS[algorithm]) + r"}$", encoded):
        return ERR_DIGEST_FORMAT
    return None


def parse(text):
    """reference.Parse: syntax only, no normalization (domain may be empty)."""
    if not text:
        raise ImageReferenceError(text, ERR_NAME_EMPTY)
    match = REFERENCE_RE.match(text)
    if not match:
        lowered = text.lower()
        if lowered != text and REFERENCE_RE.match(lowered):
            raise ImageReferenceError(text, ERR_UPPERCASE)
        raise ImageReferenceError(text, ERR_INVALID_FORMAT)
    name, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    # The whole name (domain included) counts, as in the reference package vendored by dockerd 20.10.
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise ImageReferenceError(text, ERR_NAME_TOO_LONG)
    name_match = ANCHORED_NAME_RE.match(name)
    domain, path = (name_match.group(1) or "", name_match.group(2)) if name_match else ("", name)
    if digest:
        error = validate_digest(digest)
        if error:
            raise ImageReferenceError(text, error)
    return ImageReference(domain, path, tag, digest)


def split_docker_domain(name):
    """normalize.go splitDockerDomain."""
    if "/" not in name:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    maybe_domain, maybe_remote = name.split("/", 1)
    if maybe_domain == "localhost":
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain or maybe_domain.lower() != maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def parse_normalized_named(text):
    """normalize.go ParseNormalizedNamed: familiar name -> fully qualified reference (no default tag)."""
    if text is None or not isinstance(text, str):
        raise ImageReferenceError(text, ERR_NAME_EMPTY if not text else ERR_INVALID_FORMAT)
    if ANCHORED_IDENTIFIER_RE.match(text):
        raise ImageReferenceError(
            text, f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    if not text:
        raise ImageReferenceError(text, ERR_NAME_EMPTY)
    domain, remainder = split_docker_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise ImageReferenceError(
            text, f"invalid reference format: repository name ({remote}) must be lowercase")
    try:
        ref = parse(domain + "/" + remainder)
    except ImageReferenceError as exc:
        raise ImageReferenceError(text, exc.reason) from None
    if not ref.path:
        raise ImageReferenceError(text, ERR_NAME_EMPTY)
    return ref


def tag_name_only(ref):
    """normalize.go TagNameOnly: add 'latest' when neither tag nor digest is given."""
    if not ref.tag and not ref.digest:
        return ref._replace(tag=DEFAULT_TAG)
    return ref


def normalize(text):
    """ParseNormalizedNamed + TagNameOnly: what `docker pull TEXT` resolves to."""
    return tag_name_only(parse_normalized_named(text))


def parse_docker_ref(text):
    """normalize.go ParseDockerRef: like normalize(), but a digest wins over a tag (tag dropped)."""
    ref = parse_normalized_named(text)
    if ref.tag and ref.digest:
        return ref._replace(tag="")
    return tag_name_only(ref)


def repository_of(repo_entry):
    """The normalized repository name of a RepoTags/RepoDigests entry (e.g. 'busybox@sha256:..')."""
    try:
        return parse_normalized_named(repo_entry).name
    except ImageReferenceError:
        return None

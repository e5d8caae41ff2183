# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Platform strings (os/arch[/variant]) normalized like containerd's platforms package.

Differences from containerd, on purpose:
- arm64 keeps the explicit variant ``v8`` (containerd drops it); docker shows images as
  ``linux/arm64/v8`` and the two forms compare equal here.
- ``arm`` without variant is ``arm/v7`` (containerd's normalizeArch does the same).
- ``uname -m`` spellings (armv7l, armv6l, i686, ...) are understood, containerd only knows GOARCH names.

Compatibility rule (compatible()):
- os and architecture must be equal;
- variants: equal, or one side has none; for arm an older image variant runs on a newer host
  (arm/v6 on arm/v7) and for amd64 an older micro-architecture level runs on a newer one;
- with allow_32bit=True also containerd's fallbacks: amd64 hosts run 386 and arm64 hosts run
  arm/v5..v7 (off by default: many 64-bit ARM server CPUs cannot execute 32-bit code).
"""


import os
import re
from collections import namedtuple

# Architecture spellings (GOARCH, uname -m, Debian) -> (arch, default variant)
ARCH_ALIASES = {
    "amd64": ("amd64", ""),
    "x86_64": ("amd64", ""),
    "x86-64": ("amd64", ""),
    "386": ("386", ""),
    "i386": ("386", ""),
    "i486": ("386", ""),
    "i586": ("386", ""),
    "i686": ("386", ""),
    "arm64": ("arm64", "v8"),
    "aarch64": ("arm64", "v8"),
    "arm": ("arm", "v7"),
    "armhf": ("arm", "v7"),
    "armv7": ("arm", "v7"),
    "armv7l": ("arm", "v7"),
    "armv8l": ("arm", "v8"),
    "armel": ("arm", "v6"),
    "armv6": ("arm", "v6"),
    "armv6l": ("arm", "v6"),
    "armv5": ("arm", "v5"),
    "armv5l": ("arm", "v5"),
    "armv5tel": ("arm", "v5"),
}

# Variant spellings per architecture -> canonical variant
VARIANT_ALIASES = {
    "amd64": {"v1": ""},
    "arm64": {"": "v8", "8": "v8"},
    "arm": {"": "v7", "5": "v5", "6": "v6", "7": "v7", "8": "v8"},
    "386": {},
}

OS_ALIASES = {"macos": "darwin"}

KNOWN_OS = frozenset((
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux",
    "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos"))
KNOWN_ARCH = frozenset((
    "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le", "loong64",
    "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "riscv", "riscv64",
    "s390", "s390x", "sparc", "sparc64", "wasm"))

# Images of these (arch, variant-free) platforms also run on the host arch when allow_32bit is set.
COMPAT_32BIT = {"amd64": ("386",), "arm64": ("arm",)}
# Architectures whose variants are ordered levels (older image runs on newer host).
LEVELED_VARIANTS = ("arm", "amd64")

_COMPONENT_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class PlatformError(ValueError):
    pass


class Platform(namedtuple("Platform", "os architecture variant")):
    __slots__ = ()

    def __str__(self):
        return "/".join(part for part in self if part)


def normalize_arch(arch, variant=""):
    arch, variant = (arch or "").lower(), (variant or "").lower()
    if arch in ARCH_ALIASES:
        arch, default_variant = ARCH_ALIASES[arch]
        variant = variant or default_variant
    if arch == "386":
        variant = ""
    variant = VARIANT_ALIASES.get(arch, {}).get(variant, variant)
    return arch, variant


def normalize_os(os_name):
    os_name = (os_name or "").lower()
    return OS_ALIASES.get(os_name, os_name)


def normalize(os_name, arch, variant=""):
    arch, variant = normalize_arch(arch, variant)
    return Platform(normalize_os(os_name), arch, variant)


def from_image(image):
    """Platform of an Engine API image inspect or an OCI platform dict (either key spelling)."""
    def pick(*keys):
        for key in keys:
            if image.get(key):
                return image[key]
        return ""
    return normalize(pick("Os", "os", "OS"), pick("Architecture", "architecture"), pick("Variant", "variant"))


def host_platform(uname=None):
    """The target's platform from os.uname() (sysname, machine)."""
    uname = uname or os.uname()
    return normalize(uname[0], uname[4])


def parse(specifier, host=None):
    """Parse 'os', 'arch', 'os/arch' or 'os/arch/variant' (containerd platforms.Parse)."""
    if not specifier or not isinstance(specifier, str):
        raise PlatformError(f"Invalid platform {specifier!r}: expected os/arch[/variant], e.g. linux/arm64/v8")
    if "*" in specifier:
        raise PlatformError(f"Invalid platform {specifier!r}: wildcards are not supported")
    parts = specifier.split("/")
    if len(parts) > 3:
        raise PlatformError(f"Invalid platform {specifier!r}: too many components, expected os/arch[/variant]")
    for part in parts:
        if not _COMPONENT_RE.match(part):
            raise PlatformError(
                f"Invalid platform {specifier!r}: component {part!r} must match {_COMPONENT_RE.pattern}")
    host = host or host_platform()
    if len(parts) == 1:
        name = normalize_os(parts[0])
        if name in KNOWN_OS:
            return Platform(name, host.architecture, host.variant)
        arch, variant = normalize_arch(parts[0])
        if arch in KNOWN_ARCH:
            return Platform(host.os, arch, variant)
        raise PlatformError(f"Invalid platform {specifier!r}: unknown operating system or architecture")
    return normalize(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def _level(variant):
    match = re.match(r"^v(\d+)$", variant or "")
    return int(match.group(1)) if match else None


def _variant_ok(arch, image_variant, host_variant):
    if not image_variant or not host_variant or image_variant == host_variant:
        return True
    image_level, host_level = _level(image_variant), _level(host_variant)
    return arch in LEVELED_VARIANTS and None not in (image_level, host_level) and image_level <= host_level


def compatible(image, host, allow_32bit=False):
    """True when a host of platform `host` runs images of platform `image` natively."""
    image = normalize(*image)
    host = normalize(*host)
    if image.os != host.os:
        return False
    if image.architecture == host.architecture:
        return _variant_ok(image.architecture, image.variant, host.variant)
    return allow_32bit and image.architecture in COMPAT_32BIT.get(host.architecture, ())


def matches(wanted, offered):
    """True when a registry platform `offered` satisfies the requested platform `wanted` exactly."""
    wanted, offered = normalize(*wanted), normalize(*offered)
    return wanted.os == offered.os and wanted.architecture == offered.architecture and (
        not wanted.variant or not offered.variant or wanted.variant == offered.variant)


def offered_platforms(distribution):
    """Platforms of a GET /distribution/{name}/json answer, without attestation 'unknown/unknown'."""
    result = []
    for entry in distribution.get("Platforms") or []:
        platform = from_image(entry)
        if "unknown" in (platform.os, platform.architecture) or platform in result:
            continue
        result.append(platform)
    return result

"""Platform normalization (containerd platforms package rules, see _platforms.py for the differences)."""
from __future__ import annotations

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _platforms as platforms,
)
from ansible_collections.fleetops.docker.plugins.module_utils._platforms import Platform

AMD64 = Platform("linux", "amd64", "")
ARM64 = Platform("linux", "arm64", "v8")


@pytest.mark.parametrize("machine, expected", [
    ("x86_64", "linux/amd64"),
    ("aarch64", "linux/arm64/v8"),
    ("armv7l", "linux/arm/v7"),
    ("armv6l", "linux/arm/v6"),
    ("i686", "linux/386"),
    ("i386", "linux/386"),
    ("ppc64le", "linux/ppc64le"),
    ("s390x", "linux/s390x"),
])
def test_host_platform_from_uname(machine, expected):
    assert str(platforms.host_platform(("Linux", "host", "6.1", "#1", machine))) == expected


@pytest.mark.parametrize("arch, variant, expected", [
    ("x86_64", "", ("amd64", "")),
    ("x86-64", "", ("amd64", "")),
    ("amd64", "v1", ("amd64", "")),
    ("amd64", "v3", ("amd64", "v3")),
    ("Aarch64", "", ("arm64", "v8")),
    ("arm64", "8", ("arm64", "v8")),
    ("arm64", "v8", ("arm64", "v8")),
    ("armhf", "", ("arm", "v7")),
    ("armel", "", ("arm", "v6")),
    ("arm", "", ("arm", "v7")),
    ("arm", "7", ("arm", "v7")),
    ("arm", "5", ("arm", "v5")),
    ("i386", "", ("386", "")),
])
def test_normalize_arch(arch, variant, expected):
    assert platforms.normalize_arch(arch, variant) == expected


@pytest.mark.parametrize("specifier, expected", [
    # containerd platforms_test.go TestParseSelector (host linux/amd64 for the one-part forms)
    ("linux/arm64", "linux/arm64/v8"),
    ("linux/arm64/v8", "linux/arm64/v8"),
    ("linux/arm", "linux/arm/v7"),
    ("linux/arm/v6", "linux/arm/v6"),
    ("linux/arm/v7", "linux/arm/v7"),
    ("arm", "linux/arm/v7"),
    ("armel", "linux/arm/v6"),
    ("armhf", "linux/arm/v7"),
    ("Aarch64", "linux/arm64/v8"),
    ("x86_64", "linux/amd64"),
    ("Linux/x86_64", "linux/amd64"),
    ("i386", "linux/386"),
    ("linux", "linux/amd64"),
    ("s390x", "linux/s390x"),
    ("linux/s390x", "linux/s390x"),
    ("macOS", "darwin/amd64"),
    ("windows", "windows/amd64"),
])
def test_parse(specifier, expected):
    assert str(platforms.parse(specifier, host=AMD64)) == expected


@pytest.mark.parametrize("specifier", ["", "/linux/arm", "linux/arm/", "linux /arm", "linux/&arm",
                                       "linux/arm/foo/bar", "*", "linux/*", "notanos"])
def test_parse_invalid(specifier):
    # containerd platforms_test.go TestParseSelectorInvalid, plus wildcards and unknown names
    with pytest.raises(platforms.PlatformError):
        platforms.parse(specifier, host=AMD64)


@pytest.mark.parametrize("image, host, allow_32bit, expected", [
    ("linux/amd64", "linux/amd64", False, True),
    ("linux/arm64/v8", "linux/amd64", False, False),
    ("linux/arm64", "linux/arm64/v8", False, True),       # missing variant == v8
    ("linux/amd64", "linux/arm64/v8", False, False),
    ("linux/arm/v6", "linux/arm/v7", False, True),        # older arm variant runs on newer host
    ("linux/arm/v7", "linux/arm/v6", False, False),
    ("linux/amd64/v2", "linux/amd64/v3", False, True),
    ("linux/amd64/v3", "linux/amd64", False, True),       # host level unknown: equal-or-missing rule
    ("linux/arm/v7", "linux/arm64/v8", False, False),
    ("linux/arm/v7", "linux/arm64/v8", True, True),       # containerd fallback, opt-in
    ("linux/386", "linux/amd64", True, True),
    ("linux/386", "linux/amd64", False, False),
    ("windows/amd64", "linux/amd64", True, False),
])
def test_compatible(image, host, allow_32bit, expected):
    assert platforms.compatible(platforms.parse(image, AMD64), platforms.parse(host, AMD64), allow_32bit) is expected


def test_platform_of_image_inspect_and_of_oci_entries():
    assert str(platforms.from_image({"Architecture": "arm64", "Os": "linux", "Variant": "v8"})) == "linux/arm64/v8"
    assert str(platforms.from_image({"architecture": "arm", "os": "linux"})) == "linux/arm/v7"


def test_offered_platforms_skip_attestation_entries():
    # Platforms list as recorded in moby/moby#47012 (index with attestation manifests)
    answer = {"Platforms": [{"architecture": "amd64", "os": "linux"}, {"architecture": "unknown", "os": "unknown"},
                            {"architecture": "arm", "os": "linux", "variant": "v6"},
                            {"architecture": "arm64", "os": "linux", "variant": "v8"},
                            {"architecture": "unknown", "os": "unknown"}]}

    assert [str(p) for p in platforms.offered_platforms(answer)] == ["linux/amd64", "linux/arm/v6", "linux/arm64/v8"]


def test_matches_requested_platform():
    assert platforms.matches(ARM64, Platform("linux", "arm64", ""))
    assert not platforms.matches(Platform("linux", "arm", "v6"), Platform("linux", "arm", "v7"))
    assert not platforms.matches(AMD64, ARM64)

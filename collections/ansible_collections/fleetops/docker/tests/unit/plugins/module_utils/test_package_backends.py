"""Parsers, OS detection, name mapping and command classification of _package_backends."""

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _package_backends as b,
)
from ansible_collections.fleetops.docker.tests.unit.plugins.fixtures import (
    package_outputs as out,
)


def test_parse_yum_list_joins_wrapped_rows_and_ignores_plugin_lines():
    rows = b.parse_yum_list(out.YUM_LIST_WRAPPED)
    assert [(r["name"], r["epoch"], r["version"], r["release"], r["arch"], r["repo"]) for r in rows] == [
        ("docker", "2", "1.13.1", "108.git4ef4b30.el7.centos", "x86_64", "extras"),
        ("docker-client", "2", "1.13.1", "108.git4ef4b30.el7.centos", "x86_64", "extras"),
        ("docker-distribution", "0", "2.6.2", "2.git48294d9.el7", "x86_64", "extras"),
    ]


def test_parse_yum_list_installed_keeps_the_at_repo():
    repos = {r["name"]: r["repo"] for r in b.parse_yum_list(out.YUM_LIST_INSTALLED_SEED)}
    assert repos == {"containerd": "@amzn2extra-docker", "docker": "@amzn2extra-docker", "libcgroup": "@amzn2-core",
                     "pigz": "@amzn2-core", "runc": "@amzn2extra-docker"}


def test_parse_extras_list_reads_state_with_dagger_marker_and_wrapped_versions():
    available = b.parse_extras(out.EXTRAS_LIST_DOCKER_AVAILABLE)
    enabled = b.parse_extras(out.EXTRAS_LIST_DOCKER_ENABLED)
    assert available["docker"] == "available" and enabled["docker"] == "enabled"
    assert enabled["corretto8"] == "available" and enabled["kernel-5.10"] == "enabled"
    assert "stable" not in enabled and "=1.8.0_242" not in enabled


def test_parse_rpm_skips_not_installed_lines():
    assert b.parse_rpm(out.RPM_NONE_INSTALLED) == []
    rows = b.parse_rpm(out.RPM_SEED_INSTALLED)
    assert rows[0] == {"name": "docker", "epoch": "0", "version": "20.10.25", "release": "1.amzn2.0.4",
                       "arch": "x86_64", "repo": None, "size_bytes": 178257920}


def test_parse_dpkg_keeps_only_installed_packages():
    assert b.parse_dpkg(out.DPKG_REMOVED_CONFFILES_OUT) == []
    docker = next(r for r in b.parse_dpkg(out.DPKG_PARTIAL_OUT) if r["name"] == "docker.io")
    assert (docker["version"], docker["release"], docker["arch"], docker["size_bytes"]) == (
        "20.10.24+dfsg1", "1+deb12u1+b6", "amd64", 147576 * 1024)


def test_parse_madison_ignores_source_lines_and_duplicate_versions():
    rows = b.parse_madison(out.MADISON_INSTALLED + out.MADISON_SOURCES_LINE + out.MADISON_MISSING)
    assert [(r["name"], r["version"], r["release"], r["repo"]) for r in rows] == [
        ("containerd", "1.6.20~ds1", "1+deb12u3", "http://deb.debian.org/debian bookworm/main"),
        ("containerd", "1.6.20~ds1", "1+deb12u2", "http://deb.debian.org/debian-security bookworm-security/main"),
        ("docker.io", "20.10.24+dfsg1", "1+deb12u1+b6", "http://deb.debian.org/debian bookworm/main"),
        ("runc", "1.1.5+ds1", "1+deb12u1", "http://deb.debian.org/debian bookworm/main"),
        ("cgroup-tools", "2.0.2", "2", "http://deb.debian.org/debian bookworm/main"),
        ("pigz", "2.6", "1", "http://deb.debian.org/debian bookworm/main"),
    ]


def test_parse_repoquery():
    rows = b.parse_repoquery(out.DNF_REPOQUERY_AVAILABLE)
    assert rows[0] == {"name": "containerd", "epoch": "0", "version": "2.0.5", "release": "1.amzn2023.0.2",
                       "arch": "x86_64", "repo": "amazonlinux", "size_bytes": 104857600}


@pytest.mark.parametrize("text, platform", [
    (out.OS_RELEASE_AL2, "amzn2"),
    (out.OS_RELEASE_AL2023, "amzn2023"),
    (out.OS_RELEASE_DEBIAN12, "debian"),
    ('ID=ubuntu\nVERSION_ID="24.04"\n', "debian"),
    ('ID="rocky"\nVERSION_ID="9.4"\n', "rhel"),
    ('ID="almalinux"\nVERSION_ID="8.10"\n', "rhel"),
    ('ID=fedora\nVERSION_ID=40\n', "fedora"),
])
def test_detect_platform(text, platform):
    assert b.detect_platform(text)[0] == platform


@pytest.mark.parametrize("text", [out.OS_RELEASE_ALPINE, 'ID="centos"\nVERSION_ID="7"\n',
                                  'ID="amzn"\nVERSION_ID="2018.03"\n', ""])
def test_detect_platform_rejects_unsupported(text):
    with pytest.raises(b.PackageManagerError) as failure:
        b.detect_platform(text)
    assert "Supported: amzn 2 (yum), amzn 2023 (dnf)" in failure.value.msg


def test_package_names_map_logical_names_per_os_and_pass_others_through():
    assert b.package_names("debian", b.STACK) == [
        ("docker", "docker.io"), ("containerd", "containerd"), ("runc", "runc"), ("libcgroup", "cgroup-tools"), ("pigz", "pigz")]
    assert [real for _l, real in b.package_names("rhel", b.STACK)] == ["docker-ce", "containerd.io", "pigz"]
    assert b.package_names("amzn2", ["docker", "amazon-ecr-credential-helper", "docker"]) == [
        ("docker", "docker"), ("amazon-ecr-credential-helper", "amazon-ecr-credential-helper")]


def make_backend(name, results):
    calls = []

    def run_command(argv):
        calls.append(argv)
        return results.pop(0)

    return b.Backend(name, run_command, 30, lambda seconds: None, lambda: 0.0), calls


def test_backend_treats_benign_stderr_as_success_and_other_failures_as_errors():
    backend, _calls = make_backend("apt", [
        (1, out.DPKG_PARTIAL_OUT, out.DPKG_PARTIAL_ERR), (1, "", "dpkg-query: error: database is locked\n")])
    assert sorted(backend.installed(["docker.io", "pigz"])) == ["docker.io"]
    with pytest.raises(b.PackageManagerError) as failure:
        backend.installed(["pigz"])
    assert failure.value.msg.startswith("Command failed (rc=1): dpkg-query -W -f")
    assert failure.value.details["stderr"] == "dpkg-query: error: database is locked\n"


def test_backend_caches_identical_madison_queries_only():
    backend, calls = make_backend("apt", [(0, out.MADISON_MISSING, "")])
    first = backend.available(["pigz"])
    assert backend.available(["pigz"]) == first and len(calls) == 1
    assert b.BACKENDS["yum"]["available"].get("cache") is None

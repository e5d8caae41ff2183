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
    repos = {r["name"]: r["repo"] for r in b.parse_yum_list(out.YUM_LIST_INSTALLED_AL2_STACK)}
    assert repos == {"containerd": "@amzn2extra-docker", "docker": "@amzn2extra-docker", "libcgroup": "@amzn2-core",
                     "pigz": "@amzn2-core", "runc": "@amzn2extra-docker"}


def test_parse_extras_list_reads_state_with_dagger_marker_and_wrapped_versions():
    available = b.parse_extras(out.EXTRAS_LIST_DOCKER_AVAILABLE)
    enabled = b.parse_extras(out.EXTRAS_LIST_DOCKER_ENABLED)
    assert available["docker"] == "available" and enabled["docker"] == "enabled"
    assert enabled["corretto8"] == "available" and enabled["kernel-5.10"] == "enabled"
    assert "stable" not in enabled and "=1.8.0_242" not in enabled


def test_parse_extras_real_list_of_2023_keeps_every_row_and_skips_the_footer():
    topics = b.parse_extras(out.EXTRAS_LIST_DOCKER_ENABLED)
    rows = [line for line in out.EXTRAS_LIST_DOCKER_ENABLED.splitlines() if line.rstrip().endswith(("]", "\\"))
            and not line.lstrip().startswith(("[", "="))]
    assert len(topics) == len(rows) == 20
    assert topics["kernel-5.4"] == "available", "the '_' row (no number) is a topic too"
    assert (topics["docker"], topics["java-openjdk11"], topics["mariadb10.5"]) == ("enabled", "available", "available")
    assert not [topic for topic in topics if "Note" in topic or topic.startswith("=")]


def test_parse_extras_real_list_of_2019_reads_underscore_rows_and_wrapped_lines():
    assert b.parse_extras(out.EXTRAS_LIST_AL2_2019) == {
        "ruby2.4": "available", "php7.2": "available", "php7.1": "enabled", "lamp-mariadb10.2-php7.2": "available",
        "libreoffice": "available", "gimp": "available", "docker": "enabled", "mate-desktop1.x": "available",
        "GraphicsMagick1.3": "available", "tomcat8.5": "available", "epel": "enabled"}


def test_backend_finds_the_docker_topic_in_the_real_enable_output():
    backend, calls = make_backend("yum", [(0, out.EXTRAS_ENABLE_OUT, "")])
    assert backend.extras_topics()["docker"] == "enabled"
    assert calls == [["amazon-linux-extras", "list"]]


def test_parse_yum_list_installed_real_al2_output():
    rows = b.parse_yum_list(out.YUM_LIST_INSTALLED_AL2_CLOUD9)
    assert len(rows) == len(out.YUM_LIST_INSTALLED_AL2_CLOUD9.splitlines()) - 3
    stack = {r["name"]: (r["epoch"], r["version"], r["release"], r["arch"], r["repo"]) for r in rows if r["name"] in b.STACK}
    assert stack == {
        "containerd": ("0", "1.4.1", "2.amzn2", "x86_64", "@amzn2extra-docker"),
        "docker": ("0", "19.03.13ce", "1.amzn2", "x86_64", "@amzn2extra-docker"),
        "libcgroup": ("0", "0.41", "21.amzn2", "x86_64", "@amzn2-core"),
        "pigz": ("0", "2.3.4", "1.amzn2.0.1", "x86_64", "@amzn2-core"),
        "runc": ("0", "1.0.0", "0.1.20200826.gitff819c7.amzn2", "x86_64", "@amzn2extra-docker"),
    }
    others = [(r["name"], r["epoch"], r["repo"]) for r in rows if r["name"] not in b.STACK]
    assert others == [("bash-completion", "1", "installed"), ("kernel", "0", "installed"), ("kernel", "0", "@amzn2-core"),
                      ("kernel", "0", "@amzn2-core"), ("php-cli", "0", "@amzn2extra-lamp-mariadb10.2-php7.2")]


def test_backend_takes_installed_repos_from_the_real_yum_list():
    backend, calls = make_backend("yum", [(0, out.RPM_AL2_CLOUD9_INSTALLED, ""), (0, out.YUM_LIST_INSTALLED_AL2_CLOUD9, "")])
    installed = backend.installed(list(b.STACK))
    assert backend.installed_repos(installed) == {
        "containerd": "@amzn2extra-docker", "docker": "@amzn2extra-docker", "libcgroup": "@amzn2-core",
        "pigz": "@amzn2-core", "runc": "@amzn2extra-docker"}
    assert calls[1][-5:] == ["containerd", "docker", "libcgroup", "pigz", "runc"]


def test_backend_orders_the_real_showduplicates_versions_oldest_first():
    backend, _calls = make_backend("yum", [(0, out.YUM_LIST_SHOWDUPLICATES_DOCKER_AL2, "")])
    offers = backend.available(["docker"])["docker"]
    assert ["{}-{}".format(r["version"], r["release"]) for r in offers] == [
        "17.06.2ce-1.102.amzn2", "17.12.1ce-2.amzn2", "18.03.1ce-2.amzn2", "18.03.1ce-3.amzn2"]
    assert {r["repo"] for r in offers} == {"amzn2extra-docker"}


def test_parse_rpm_skips_not_installed_lines():
    assert b.parse_rpm(out.RPM_NONE_INSTALLED) == []
    rows = b.parse_rpm(out.RPM_AL2_STACK_INSTALLED)
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


@pytest.mark.parametrize("text, distro", [
    (out.OS_RELEASE_AL2, "amzn2"),
    (out.OS_RELEASE_AL2023, "amzn2023"),
    (out.OS_RELEASE_AL2023_POINT_RELEASE, "amzn2023"),
    (out.OS_RELEASE_DEBIAN12, "debian"),
    ('ID=ubuntu\nVERSION_ID="24.04"\n', "debian"),
    ('ID="rocky"\nVERSION_ID="9.4"\n', "rhel"),
    ('ID="almalinux"\nVERSION_ID="8.10"\n', "rhel"),
    ('ID=fedora\nVERSION_ID=40\n', "fedora"),
])
def test_detect_distro(text, distro):
    assert b.detect_distro(text)[0] == distro


@pytest.mark.parametrize("text", [out.OS_RELEASE_ALPINE, 'ID="centos"\nVERSION_ID="7"\n',
                                  'ID="amzn"\nVERSION_ID="2018.03"\n', ""])
def test_detect_distro_rejects_unsupported(text):
    with pytest.raises(b.PackageManagerError) as failure:
        b.detect_distro(text)
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


def test_backend_madison_cache_hits_for_the_same_names_in_another_order():
    calls = []

    def run_command(argv):
        calls.append(argv)
        return 0, out.MADISON_MISSING, ""

    backend = b.Backend("apt", run_command, 30, lambda seconds: None, lambda: 0.0)
    installed = {r["name"]: r for r in b.parse_dpkg("pigz\t2.6-1\tamd64\tii \t204\ncgroup-tools\t2.0.2-2\tamd64\tii \t121\n")}
    assert backend.installed_repos(installed) == {"cgroup-tools": "@http://deb.debian.org/debian bookworm/main",
                                                  "pigz": "@http://deb.debian.org/debian bookworm/main"}
    assert sorted(backend.available(["pigz", "cgroup-tools"])) == ["cgroup-tools", "pigz"]
    assert calls == [["apt-cache", "madison", "--", "cgroup-tools", "pigz"]]


def test_backends_declare_only_commands_the_engine_runs():
    """Upgrades are installs of a newer exact version (EngineManager.apply), so there is no 'upgrade' command."""
    used = {"installed", "installed_repos", "available", "refresh", "install", "downgrade", "remove"}
    for name, spec in b.BACKENDS.items():
        # apt repairs an interrupted dpkg; dnf reruns a failed metadata download without -q to read the cause
        extra = {"apt": {"interrupted"}, "dnf": {"diagnose"}}.get(name, set())
        assert {key for key, value in spec.items() if isinstance(value, dict) and "argv" in value} == used | extra


# ---------------------------------------------------------------- real Amazon Linux lock / repository messages

def test_backend_retries_while_yum_prints_the_real_lock_message():
    sleeps = []
    results = [(1, "", out.YUM_LOCKED_WAITING_AL2), (0, out.YUM_LIST_AVAILABLE, "")]
    backend = b.Backend("yum", lambda argv: results.pop(0), 30, sleeps.append, lambda: 0.0)
    assert [r["version"] for r in backend.available(["docker"])["docker"]] == ["20.10.17", "20.10.25"]
    assert sleeps == [b.LOCK_POLL_SECONDS]


@pytest.mark.parametrize("name, lock_text, lock_line", [
    ("yum", out.YUM_LOCKED_WAITING_AL2, "Existing lock /var/run/yum.pid: another copy is running as pid 3160."),
    ("yum", out.YUM_LOCKED_ERR, "Existing lock /var/run/yum.pid: another copy is running as pid 3160."),
    ("dnf", out.DNF_LOCKED_ERR, "metadata already locked by 3160"),
])
def test_backend_gives_up_on_a_lock_after_lock_timeout_and_names_it(name, lock_text, lock_line):
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    backend = b.Backend(name, lambda argv: (200, "", lock_text), 5, sleep, lambda: now[0])
    with pytest.raises(b.PackageManagerError) as failure:
        backend.refresh()
    assert failure.value.msg == (
        f"Package manager lock still held after lock_timeout=5s: {lock_line}; nothing was changed.")


@pytest.mark.parametrize("name, text, first_line", [
    ("yum", out.YUM_UNREACHABLE_ERR,
     "Could not retrieve mirrorlist https://amazonlinux.default.amazonlinux.com/2/core/latest/x86_64/mirror.list error "
     "was; repository amzn2-core/2/x86_64; cause: 12: Timeout on https://amazonlinux.default.amazonlinux.com/2/core/"
     "latest/x86_64/mirror.list: (28, 'Resolving timed out after 5001 milliseconds')"),
    ("dnf", out.DNF_UNREACHABLE_ERR,
     "Failed to download metadata for repo 'amazonlinux': Cannot prepare internal mirrorlist: Curl error (6): "
     "Couldn't resolve host name for https://cdn.amazonlinux.com/al2023/core/mirrors/2023.0.20230315/x86_64/mirror.list "
     "[getaddrinfo() thread failed to start]"),
])
def test_backend_reports_the_real_unreachable_repository_on_failure(name, text, first_line):
    backend, _calls = make_backend(name, [(1, "", text)])
    with pytest.raises(b.PackageManagerError) as failure:
        backend.refresh()
    assert failure.value.msg == f"Package repository unreachable ({name}): {first_line}"


def test_backend_reports_a_repository_dnf_skipped_although_it_exited_0():
    backend, _calls = make_backend("dnf", [(0, out.DNF_SKIPPED_REPO_OUT, out.DNF_SKIPPED_REPO_ERR)])
    with pytest.raises(b.PackageManagerError) as failure:
        backend.refresh()
    assert failure.value.msg.startswith(
        "Package repository unreachable (dnf): Failed to download metadata for repo 'amazonlinux': Cannot prepare")
    assert failure.value.details["rc"] == 0


@pytest.mark.parametrize("name, rc, stdout, stderr", [
    ("yum", 0, "", out.YUM_UNREACHABLE_ERR),  # SYNTHETIC pairing: the REAL yum text with rc 0
    ("apt", 0, out.APT_UPDATE_UNREACHABLE_OUT, out.APT_UPDATE_UNREACHABLE_ERR),
])
def test_backend_only_warns_about_repository_messages_of_a_successful_command(name, rc, stdout, stderr):
    warnings = []
    backend = b.Backend(name, lambda argv: (rc, stdout, stderr), 30, lambda seconds: None, lambda: 0.0, warnings.append)
    backend.refresh()
    assert len(warnings) == 1
    assert "succeeded but reported a repository problem (its package lists may be old): " in warnings[0]


def test_backend_does_not_rerun_a_command_that_waited_for_the_lock_and_succeeded():
    calls, sleeps = [], []

    def run_command(argv):
        calls.append(argv)
        assert len(calls) == 1, "the command succeeded; it must not run again"
        return 0, out.YUM_LIST_AVAILABLE, out.YUM_LOCKED_WAITING_AL2

    backend = b.Backend("yum", run_command, 30, sleeps.append, lambda: 0.0)
    assert [r["version"] for r in backend.available(["docker"])["docker"]] == ["20.10.17", "20.10.25"]
    assert len(calls) == 1 and sleeps == []


def test_backend_lock_timeout_counts_from_each_command_not_from_construction():
    now, sleeps = [0.0], []
    results = [(1, "", out.YUM_LOCKED_ERR), (0, out.YUM_COMPLETE, "")]
    backend = b.Backend("yum", lambda argv: results.pop(0), 5, sleeps.append, lambda: now[0])
    now[0] = 600.0  # the module ran for ten minutes before this command
    backend.refresh()
    assert sleeps == [b.LOCK_POLL_SECONDS] and results == []


def test_lock_error_after_a_change_does_not_claim_nothing_was_changed():
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    results = [(0, out.YUM_COMPLETE, "")] + [(1, "", out.YUM_LOCKED_ERR)] * 10
    backend = b.Backend("yum", lambda argv: results.pop(0), 5, sleep, lambda: now[0])
    record = {"name": "docker", "epoch": "0", "version": "20.10.17", "release": "1.amzn2.0.1"}
    backend.apply("remove", [record])
    with pytest.raises(b.PackageManagerError) as failure:
        backend.apply("install", [record])
    assert failure.value.msg.endswith("another copy is running as pid 3160.; no further change was made.")
    assert "nothing was changed" not in failure.value.msg


@pytest.mark.parametrize("name, transcript", [("yum", out.YUM_INSTALL_DOCKER_AL2), ("dnf", out.DNF_INSTALL_DOCKER_AL2023)])
def test_backend_accepts_a_real_install_transcript_as_success(name, transcript):
    backend, calls = make_backend(name, [(0, transcript, "")])
    record = {"name": "docker", "epoch": "0", "version": "20.10.17", "release": "1.amzn2.0.1"}
    assert backend.apply("install", [record]) == transcript
    assert calls[0][-4:] == ["-y", "install", "--", "docker-20.10.17-1.amzn2.0.1"]


# ---------------------------------------------------------------- an interrupted dpkg (tests/faults kills it mid-unpack)
DPKG_REPAIR = ["dpkg", "--force-confdef", "--force-confold", "--configure", "-a"]
PIGZ = {"name": "pigz", "epoch": "0", "version": "2.6", "release": "1", "arch": "amd64"}


def recording_backend(results, now=None):
    calls, sleeps, warnings = [], [], []

    def run_command(argv):
        calls.append(argv)
        return results.pop(0)

    def sleep(seconds):
        sleeps.append(seconds)
        if now is not None:
            now[0] += seconds

    clock = (lambda: now[0]) if now is not None else (lambda: 0.0)
    return b.Backend("apt", run_command, 30, sleep, clock, warnings.append), calls, sleeps, warnings


def test_apt_repairs_an_interrupted_dpkg_then_runs_the_install_again():
    results = [(100, "", out.APT_DPKG_INTERRUPTED_ERR), (0, "", ""), (0, out.APT_INSTALL_OUT, "")]
    backend, calls, _sleeps, warnings = recording_backend(results)
    assert backend.apply("install", [PIGZ]) == out.APT_INSTALL_OUT
    assert calls[1] == DPKG_REPAIR
    assert calls[0] == calls[2] and calls[0][-1] == "pigz=2.6-1"
    assert results == [] and backend.changed
    assert warnings == ["dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem. "
                        "-- running dpkg --force-confdef --force-confold --configure -a first"]


def test_apt_repairs_at_most_once_and_then_reports_the_failure():
    results = [(100, "", out.APT_DPKG_INTERRUPTED_ERR), (0, "", ""), (100, "", out.APT_DPKG_INTERRUPTED_ERR)]
    backend, calls, _sleeps, _warnings = recording_backend(results)
    with pytest.raises(b.PackageManagerError) as failure:
        backend.apply("install", [PIGZ])
    assert failure.value.msg.startswith("Command failed (rc=100): apt-get -y")
    assert "dpkg was interrupted" in failure.value.msg
    assert len(calls) == 3 and results == []


def test_dpkg_repair_waits_for_the_frontend_lock_like_apt_does():
    now = [0.0]
    results = [(100, "", out.APT_DPKG_INTERRUPTED_ERR), (2, "", out.DPKG_FRONTEND_LOCKED_ERR), (0, "", ""),
               (0, out.APT_INSTALL_OUT, "")]
    backend, calls, sleeps, _warnings = recording_backend(results, now)
    backend.apply("install", [PIGZ])
    assert calls[1] == calls[2] == DPKG_REPAIR
    assert sleeps == [b.LOCK_POLL_SECONDS] and results == []


def test_dpkg_repair_gives_up_on_a_held_lock_after_lock_timeout():
    now = [0.0]
    results = [(100, "", out.APT_DPKG_INTERRUPTED_ERR)] + [(2, "", out.DPKG_FRONTEND_LOCKED_ERR)] * 30
    backend, _calls, _sleeps, _warnings = recording_backend(results, now)
    with pytest.raises(b.PackageManagerError) as failure:
        backend.apply("install", [PIGZ])
    assert failure.value.msg == ("Package manager lock still held after lock_timeout=30s: dpkg frontend lock was "
                                 "locked by another process with pid 63; nothing was changed.")


def test_other_failures_are_not_taken_for_an_interrupted_dpkg():
    backend, calls, _sleeps, warnings = recording_backend([(100, "", "E: Sub-process /usr/bin/dpkg returned an error "
                                                                     "code (1)\n")])
    with pytest.raises(b.PackageManagerError):
        backend.apply("install", [PIGZ])
    assert len(calls) == 1 and warnings == []

"""The package backends on real dnf 4.14 output (captured on the AL2023 stand-in) and yum 3 / versionlock formats."""

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import _package_backends as b
from ansible_collections.fleetops.docker.plugins.module_utils._package_versions import human_size
from ansible_collections.fleetops.docker.tests.unit.plugins.fixtures import (
    package_outputs as out,
)


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def backend(name, answers, lock_timeout=60):
    """A Backend whose run_command returns `answers` in turn; the argvs it got are in .seen."""
    clock = Clock()
    seen = []

    def run_command(argv):
        seen.append(argv)
        return answers[len(seen) - 1]

    instance = b.Backend(name, run_command, lock_timeout, clock.sleep, lambda: clock.now, lock_files=[])
    instance.seen, instance.clock = seen, clock
    return instance


def test_dnf_versionlock_list_real_entries_parse_to_name_and_version():
    records = b.parse_versionlock(out.DNF_VERSIONLOCK_LIST)
    assert [(r["name"], r["epoch"], r["version"], r["release"], r["entry"]) for r in records] == [
        ("containerd", "0", "1.7.25", "1.amzn2023.0.1", "containerd-0:1.7.25-1.amzn2023.0.1.*"),
        ("docker", "0", "25.0.6", "1.amzn2023.0.2", "docker-0:25.0.6-1.amzn2023.0.2.*"),
    ]


def test_yum_versionlock_list_real_al2_output_skips_the_chatter():
    records = b.parse_versionlock(out.YUM_VERSIONLOCK_LIST_AL2_VSFTPD)
    assert [(r["name"], r["epoch"], r["version"], r["release"], r["entry"]) for r in records] == [
        ("vsftpd", "0", "3.0.2", "22.amzn2.0.1", "0:vsftpd-3.0.2-22.amzn2.0.1.*")]


@pytest.mark.parametrize("name, record, entry", [
    ("yum", {"name": "containerd", "epoch": "0", "version": "1.7.11", "release": "1.amzn2.0.1"},
     "0:containerd-1.7.11-1.amzn2.0.1.*"),
    ("dnf", {"name": "docker", "epoch": "0", "version": "25.0.6", "release": "1.amzn2023.0.2"},
     "docker-0:25.0.6-1.amzn2023.0.2.*"),
    ("apt", {"name": "docker.io", "epoch": "0", "version": "20.10.24+dfsg1", "release": "1+deb12u1+b6"}, "docker.io"),
])
def test_lock_entries_are_written_as_each_plugin_lists_them(name, record, entry):
    assert b.Backend(name, None, 1, None, None).lock_entry(record) == entry
    parser = b.PARSERS[b.BACKENDS[name]["versionlock"]["list"]["parser"]]
    assert [(r["name"], r["entry"]) for r in parser(entry + "\n")] == [(record["name"], entry)]


@pytest.mark.parametrize("stdout, stderr", [
    (out.DNF_RPM_TRANSACTION_LOCKED_OUT, out.DNF_RPM_TRANSACTION_LOCKED_ERR),
    (out.DNF_RPMDB_LOCKED_OUT, out.DNF_RPMDB_LOCKED_ERR),
])
def test_real_dnf_and_rpm_locks_are_waited_for_then_the_command_runs(stdout, stderr):
    dnf = backend("dnf", [(1, stdout, stderr), (200, stdout, stderr), (0, "Complete!\n", "")])
    dnf.apply("install", [{"name": "pigz", "epoch": "0", "version": "2.5", "release": "1.amzn2023.0.3"}])
    assert len(dnf.seen) == 3 and dnf.clock.sleeps == [2, 2]
    assert dnf.changed


def test_real_rpm_transaction_lock_held_past_lock_timeout_fails_naming_it():
    dnf = backend("dnf", [(1, out.DNF_RPM_TRANSACTION_LOCKED_OUT, out.DNF_RPM_TRANSACTION_LOCKED_ERR)] * 10,
                  lock_timeout=5)
    with pytest.raises(b.PackageManagerError) as failure:
        dnf.apply("install", [{"name": "pigz", "epoch": "0", "version": "2.5", "release": "1.amzn2023.0.3"}])
    assert failure.value.msg == (
        "Package manager lock still held after lock_timeout=5s: can't create transaction lock on "
        "/var/lib/rpm/.rpm.lock (Resource temporarily unavailable); nothing was changed.")


def test_real_errno2_of_a_concurrent_transaction_is_retried_as_transient():
    dnf = backend("dnf", [(1, out.DNF_ERRNO2_OUT, out.DNF_ERRNO2_ERR), (0, "Complete!\n", "")])
    dnf.apply("install", [{"name": "docker", "epoch": "0", "version": "25.0.6", "release": "1.amzn2023.0.2"}])
    assert len(dnf.seen) == 2 and dnf.seen[0] == dnf.seen[1]


def test_errno2_that_keeps_coming_back_fails_after_the_retries():
    dnf = backend("dnf", [(1, out.DNF_ERRNO2_OUT, out.DNF_ERRNO2_ERR)] * 10)
    with pytest.raises(b.PackageManagerError) as failure:
        dnf.apply("install", [{"name": "docker", "epoch": "0", "version": "25.0.6", "release": "1.amzn2023.0.2"}])
    assert len(dnf.seen) == b.TRANSIENT_RETRIES + 1
    assert failure.value.msg.startswith("dnf failed 4 times on a transient error")
    assert "containerd-1.7.25-1.amzn2023.0.1.x86_64.rpm" in failure.value.msg


def test_real_dnf_no_match_names_the_package():
    dnf = backend("dnf", [(1, out.DNF_NO_MATCH_OUT, out.DNF_NO_MATCH_ERR)])
    with pytest.raises(b.PackageManagerError) as failure:
        dnf.apply("install", [{"name": "docker", "epoch": "0", "version": "25.0.99", "release": "1.amzn2023.0.1"}])
    assert failure.value.msg == ("dnf install exited 1: no package available for docker-25.0.99-1.amzn2023.0.1; "
                                 "nothing was changed.")


def test_real_dnf_exclude_filtering_says_a_lock_holds_the_package():
    dnf = backend("dnf", [(1, out.DNF_HELD_BY_LOCK_OUT, out.DNF_HELD_BY_LOCK_ERR)])
    with pytest.raises(b.PackageManagerError) as failure:
        dnf.apply("install", [{"name": "containerd", "epoch": "0", "version": "1.7.20", "release": "1.amzn2023.0.1"}])
    assert failure.value.msg.startswith(
        "dnf install exited 1: containerd-1.7.20-1.amzn2023.0.1 held back by a version lock or an exclude setting")


def test_versionlock_list_without_the_plugin_means_no_plugin_not_an_error():
    yum = backend("yum", [(1, "", out.YUM_NO_VERSIONLOCK_COMMAND_ERR)])
    assert yum.versionlocks(["docker"]) is None


def test_real_repoquery_sizes_format_like_dnfs_own_removal_table():
    records = b.parse_repoquery(out.DNF_REPOQUERY_AVAILABLE_STANDIN)
    installed = {r["name"]: r for r in records if r["version"] in ("1.7.25", "25.0.6", "3.0", "2.5", "1.2.4")}
    rows = [line.split() for line in out.DNF_REMOVE_TABLE_STANDIN.splitlines()
            if line.startswith(" ") and line.split()[-1] in ("k", "M")]
    assert len(rows) == 5
    for name, _arch, version_release, _repo, size, unit in rows:
        record = installed[name]
        assert f"{record['version']}-{record['release']}" == version_release
        assert human_size(record["size_bytes"]) == f"{size} {unit}"


def test_quiet_dnf_without_the_cause_is_asked_again_without_q_for_it():
    """dnf -q prints only "Failed to download metadata ..."; the run without -q names the cause (REAL, stand-in)."""
    dnf = backend("dnf", [(1, "", out.DNF_REPO_DOWN_QUIET_ERR), (1, "", out.DNF_REPO_DOWN_ERR)])
    with pytest.raises(b.PackageManagerError) as failure:
        dnf.available(["pigz"])
    assert dnf.seen[1] == b.BACKENDS["dnf"]["diagnose"]["argv"]
    assert failure.value.msg == (
        "Package repository unreachable (dnf): Failed to download metadata for repo 'amazonlinux': Cannot download "
        "repomd.xml: Cannot download repodata/repomd.xml: All mirrors were tried; cause: Curl error (6): Couldn't "
        "resolve host name for http://rpm-stopped.fleet.test/amazonlinux/repodata/repomd.xml [Could not resolve host: "
        "rpm-stopped.fleet.test]")

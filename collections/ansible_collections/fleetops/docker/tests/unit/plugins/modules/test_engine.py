"""fleetops.docker.engine: every package-manager command is asserted, in order, with real-format output.

The fake run_command fails the test on any command that is not the next expected one, so "nothing was changed"
is checked by the absence of install/remove calls in the expected list.
"""

import os
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.docker.plugins.module_utils._package_backends import (
    BACKENDS,
)
from ansible_collections.fleetops.docker.plugins.modules import engine
from ansible_collections.fleetops.docker.tests.unit.plugins.fixtures import (
    package_outputs as out,
)

AL2_NAMES = ["docker", "containerd", "runc", "libcgroup", "pigz"]
AL2_SORTED = ["containerd", "docker", "libcgroup", "pigz", "runc"]
DEB_NAMES = ["docker.io", "containerd", "runc", "cgroup-tools", "pigz"]
DEB_SORTED = ["cgroup-tools", "containerd", "docker.io", "pigz", "runc"]

RPM_Q = ["rpm", "-q", "--queryformat", r"%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SIZE}\n"]
DPKG_Q = ["dpkg-query", "-W", "-f", r"${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\t${Installed-Size}\n"]
YUM = ["yum", "--setopt=exit_on_lock=True"]
YUM_AVAILABLE = YUM + ["-q", "--showduplicates", "list", "available"]
YUM_INSTALLED = YUM + ["-q", "-C", "list", "installed"]
DNF = ["dnf", "--setopt=exit_on_lock=True", "--setopt=skip_if_unavailable=False"]
DNF_AVAILABLE = DNF + ["-q", "repoquery", "--available", "--qf",
                       "%{name}|%{epoch}|%{version}|%{release}|%{arch}|%{repoid}|%{installsize}"]
APT_GET = ["apt-get", "-y", "-o", "DPkg::Lock::Timeout=300",
           "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
EXTRAS_LIST = ["amazon-linux-extras", "list"]

SEED_VERSIONS = {"docker": "20.10.25-1.amzn2.0.4", "containerd": "1.7.11-1.amzn2.0.1", "runc": "1.1.11-1.amzn2"}


def transaction_rows(text):
    """Rows of a yum/dnf transaction table: ' name  arch  version-release  repository  size unit'."""
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if line.startswith(" ") and len(fields) == 6 and fields[5] in ("k", "M", "G"):
            rows.append((fields[0], fields[1], fields[2], fields[3], f"{fields[4]} {fields[5]}"))
    return rows


# The seed's real "Removing:" table: name, arch, version-release, repository, size.
SEED_REMOVAL_TABLE = transaction_rows(out.YUM_REMOVE_TABLE_SEED)


def call(argv, rc=0, stdout="", stderr="", effect=None):
    return {"argv": argv, "rc": rc, "stdout": stdout, "stderr": stderr, "effect": effect}


class FakeRunner:
    """Stands in for AnsibleModule.run_command; asserts each command line against the expected sequence."""

    def __init__(self, calls):
        self.expected = list(calls)
        self.seen = []

    def __call__(self, args, **kwargs):
        assert self.expected, f"unexpected extra command: {args}"
        step = self.expected.pop(0)
        assert list(args) == step["argv"], f"command #{len(self.seen) + 1} differs"
        self.seen.append(list(args))
        if step["effect"]:
            step["effect"]()
        return step["rc"], step["stdout"], step["stderr"]

    def assert_done(self):
        assert self.expected == [], "expected commands that never ran: %s" % [s["argv"] for s in self.expected]


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []
        self.on_sleep = None

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


class Env:
    """The System the module runs against: os-release, data dirs and lock files under tmp_path, a fake clock."""

    def __init__(self, monkeypatch, tmp_path):
        self.monkeypatch = monkeypatch
        self.tmp = tmp_path
        self.clock = FakeClock()
        self.runner = None
        self.data_dirs = [str(tmp_path / "lib-docker"), str(tmp_path / "lib-containerd")]
        self.system = engine.System(
            os_release=str(tmp_path / "os-release"), data_dirs=self.data_dirs,
            lock_files={name: [str(tmp_path / f"{name}.pid")] for name in BACKENDS},
            clock=self.clock.clock, sleep=self.clock.sleep)
        self.os_release(out.OS_RELEASE_AL2)

    def os_release(self, text):
        Path(self.system.os_release).write_text(text)

    def expect(self, *calls):
        self.runner = FakeRunner(calls)
        self.monkeypatch.setattr(AnsibleModule, "run_command", self.runner)
        return self.runner


@pytest.fixture
def env(monkeypatch, tmp_path):
    return Env(monkeypatch, tmp_path)


@pytest.fixture
def run_module(run_module, env):
    """conftest's run_module, with the engine running against the test's System."""
    def run(module, args, check_mode=False, diff=False):
        return run_module(module, args, check_mode, diff, system=env.system)
    return run


def table(result):
    return [(p["name"], p["arch"], "{}-{}".format(p["version"], p["release"]), p["repo"], p["size"])
            for p in result["packages"]]


def actions(result):
    return {p["name"]: (p["action"], p["version"], p["release"]) for p in result["packages"]}


def al2_seed_install_calls(extras_state_out, enable=True):
    calls = [call(EXTRAS_LIST, stdout=extras_state_out)]
    if enable:
        calls.append(call(["amazon-linux-extras", "enable", "docker"], stdout=out.EXTRAS_ENABLE_OUT))
    return calls + [
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
        call(YUM_AVAILABLE + AL2_NAMES, stdout=out.YUM_LIST_AVAILABLE),
        call(YUM + ["-y", "install", "docker-20.10.25-1.amzn2.0.4", "containerd-1.7.11-1.amzn2.0.1",
                    "runc-1.1.11-1.amzn2", "libcgroup-0.41-21.amzn2", "pigz-2.3.4-1.amzn2.0.1"],
             stdout=out.YUM_COMPLETE),
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_SEED_INSTALLED),
    ]


def al2_settled_calls():
    return [
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED),
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_SEED_INSTALLED),
        call(YUM_INSTALLED + AL2_SORTED, stdout=out.YUM_LIST_INSTALLED_SEED),
    ]


# ---------------------------------------------------------------- Amazon Linux 2 (yum + amazon-linux-extras)

def test_al2_enables_extras_topic_then_installs_the_seed_pins(env, run_module):
    runner = env.expect(*al2_seed_install_calls(out.EXTRAS_LIST_DOCKER_AVAILABLE))
    result = run_module(engine, {"versions": SEED_VERSIONS})
    runner.assert_done()
    assert result.rc == 0, result
    assert result["changed"] is True
    assert result["backend"] == "yum" and result["platform"] == "amzn2"
    assert result["repos_enabled"] == ["amzn2extra-docker"]
    assert sorted(table(result)) == SEED_REMOVAL_TABLE
    assert {p["action"] for p in result["packages"]} == {"install"}


def test_seed_removal_table_is_read_from_the_real_transcript():
    assert [row[0] for row in SEED_REMOVAL_TABLE] == ["containerd", "docker", "libcgroup", "pigz", "runc"]
    assert SEED_REMOVAL_TABLE[1] == ("docker", "x86_64", "20.10.25-1.amzn2.0.4", "@amzn2extra-docker", "170 M")


def test_al2_install_resolves_what_the_real_yum_transaction_installed(env, run_module):
    """Pinned to the 20.10.17 stack, the module asks yum for exactly the rows of a real `yum install docker`."""
    runner = env.expect(
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED),
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
        call(YUM_AVAILABLE + AL2_NAMES, stdout=out.YUM_LIST_AVAILABLE),
        call(YUM + ["-y", "install", "docker-20.10.17-1.amzn2.0.1", "containerd-1.6.8-1.amzn2", "runc-1.1.4-1.amzn2",
                    "libcgroup-0.41-21.amzn2", "pigz-2.3.4-1.amzn2.0.1"], stdout=out.YUM_INSTALL_DOCKER_AL2),
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_AL2_20_10_17_INSTALLED),
    )
    result = run_module(engine, {"versions": {"docker": "20.10.17", "containerd": "1.6.8", "runc": "1.1.4"}})
    runner.assert_done()
    assert result.rc == 0 and result["changed"] is True and result["repos_enabled"] == []
    planned = sorted((name, arch, evr, repo.lstrip("@")) for name, arch, evr, repo, _size in table(result))
    assert planned == sorted(row[:4] for row in transaction_rows(out.YUM_INSTALL_DOCKER_AL2))


def test_al2_host_with_docker_from_amzn2extra_docker_is_left_alone(env, run_module):
    """A real AL2 host's `yum list installed` (docker 19.03.13ce from amzn2extra-docker) with matching pins."""
    runner = env.expect(
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_AL2_2019),
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_AL2_CLOUD9_INSTALLED),
        call(YUM_INSTALLED + AL2_SORTED, stdout=out.YUM_LIST_INSTALLED_AL2_CLOUD9),
    )
    result = run_module(engine, {"versions": {"docker": "19.03.13ce", "containerd": "1.4.1-2.amzn2"}})
    runner.assert_done()
    assert result.rc == 0 and result["changed"] is False
    assert {p["name"]: p["repo"] for p in result["packages"]} == {
        "docker": "@amzn2extra-docker", "containerd": "@amzn2extra-docker", "runc": "@amzn2extra-docker",
        "libcgroup": "@amzn2-core", "pigz": "@amzn2-core"}


def test_al2_second_run_is_idempotent_and_extras_already_enabled_is_no_change(env, run_module):
    first = env.expect(*al2_seed_install_calls(out.EXTRAS_LIST_DOCKER_ENABLED, enable=False))
    assert run_module(engine, {"versions": SEED_VERSIONS})["changed"] is True
    first.assert_done()

    second = env.expect(*al2_settled_calls())
    result = run_module(engine, {"versions": SEED_VERSIONS})
    second.assert_done()
    assert result["changed"] is False
    assert result["repos_enabled"] == []
    assert {p["action"] for p in result["packages"]} == {"none"}
    assert sorted(table(result)) == SEED_REMOVAL_TABLE


def test_al2_absent_removes_the_stack_and_reports_the_seed_removal_table(env, run_module):
    os.makedirs(env.data_dirs[0])
    runner = env.expect(
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_SEED_INSTALLED),
        call(YUM_INSTALLED + AL2_SORTED, stdout=out.YUM_LIST_INSTALLED_SEED),
        call(YUM + ["-y", "remove"] + AL2_NAMES, stdout=out.YUM_COMPLETE),
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
    )
    result = run_module(engine, {"state": "absent"})
    runner.assert_done()
    assert result["changed"] is True
    assert sorted(table(result)) == SEED_REMOVAL_TABLE
    assert {p["action"] for p in result["packages"]} == {"remove"}
    assert result["purged_paths"] == []
    assert os.path.isdir(env.data_dirs[0]), "images must be kept without purge_data"


def test_absent_when_nothing_is_installed_is_no_change(env, run_module):
    runner = env.expect(call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED))
    result = run_module(engine, {"state": "absent"})
    runner.assert_done()
    assert result["changed"] is False and result["packages"] == []


def test_absent_purge_data_deletes_docker_and_containerd_state(env, run_module):
    for path in env.data_dirs:
        os.makedirs(os.path.join(path, "image"))
    env.expect(call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED))
    result = run_module(engine, {"state": "absent", "purge_data": True})
    assert result["changed"] is True
    assert result["purged_paths"] == env.data_dirs
    assert not any(os.path.exists(path) for path in env.data_dirs)


def test_check_mode_reports_exact_versions_and_installs_nothing(env, run_module):
    runner = env.expect(
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED),
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
        call(YUM_AVAILABLE + AL2_NAMES, stdout=out.YUM_LIST_AVAILABLE),
    )
    result = run_module(engine, {"versions": {"docker": "20.10.17"}}, check_mode=True)
    runner.assert_done()
    assert result["changed"] is True
    assert actions(result) == {
        "docker": ("install", "20.10.17", "1.amzn2.0.1"),
        "containerd": ("install", "1.7.11", "1.amzn2.0.1"),
        "runc": ("install", "1.1.11", "1.amzn2"),
        "libcgroup": ("install", "0.41", "21.amzn2"),
        "pigz": ("install", "2.3.4", "1.amzn2.0.1"),
    }
    assert [p["repo"] for p in result["packages"]] == ["amzn2extra-docker"] * 3 + ["amzn2-core"] * 2


def test_check_mode_absent_reports_removal_and_removes_nothing(env, run_module):
    runner = env.expect(
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_SEED_INSTALLED),
        call(YUM_INSTALLED + AL2_SORTED, stdout=out.YUM_LIST_INSTALLED_SEED),
    )
    result = run_module(engine, {"state": "absent"}, check_mode=True)
    runner.assert_done()
    assert result["changed"] is True
    assert sorted(table(result)) == SEED_REMOVAL_TABLE


def test_check_mode_with_extras_topic_not_yet_enabled_does_not_enable_it(env, run_module):
    core_only = "Available Packages\nlibcgroup.x86_64   0.41-21.amzn2   amzn2-core\npigz.x86_64   2.3.4-1.amzn2.0.1   amzn2-core\n"
    runner = env.expect(
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_AVAILABLE),
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
        call(YUM_AVAILABLE + AL2_NAMES, stdout=core_only),
    )
    result = run_module(engine, {"versions": SEED_VERSIONS}, check_mode=True)
    runner.assert_done()
    assert result["repos_enabled"] == ["amzn2extra-docker"]
    assert actions(result)["docker"] == ("install", "20.10.25", "1.amzn2.0.4")
    assert result["packages"][0]["repo"] == "amzn2extra-docker"
    assert "docker is expected from amzn2extra-docker, which check mode cannot list yet" in str(result["warnings"])


def test_diff_shows_package_versions_before_and_after(env, run_module):
    env.expect(
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_SEED_INSTALLED),
        call(YUM_INSTALLED + AL2_SORTED, stdout=out.YUM_LIST_INSTALLED_SEED),
    )
    result = run_module(engine, {"state": "absent"}, check_mode=True, diff=True)
    assert result["diff"]["before"] == {"docker": "20.10.25-1.amzn2.0.4", "containerd": "1.7.11-1.amzn2.0.1",
                                        "runc": "1.1.11-1.amzn2", "libcgroup": "0.41-21.amzn2",
                                        "pigz": "2.3.4-1.amzn2.0.1"}
    assert result["diff"]["after"] == dict.fromkeys(AL2_NAMES)


def test_latest_upgrades_an_old_docker_only(env, run_module):
    old_rpm = out.RPM_SEED_INSTALLED.replace("20.10.25\t1.amzn2.0.4", "20.10.17\t1.amzn2.0.1")
    old_list = out.YUM_LIST_INSTALLED_SEED.replace("20.10.25-1.amzn2.0.4", "20.10.17-1.amzn2.0.1")
    runner = env.expect(
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED),
        call(RPM_Q + AL2_NAMES, stdout=old_rpm),
        call(YUM_INSTALLED + AL2_SORTED, stdout=old_list),
        call(YUM_AVAILABLE + AL2_NAMES, stdout=out.YUM_LIST_AVAILABLE),
        call(YUM + ["-y", "install", "docker-20.10.25-1.amzn2.0.4"], stdout=out.YUM_COMPLETE),
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_SEED_INSTALLED),
    )
    result = run_module(engine, {"state": "latest"}, diff=True)
    runner.assert_done()
    assert actions(result)["docker"] == ("upgrade", "20.10.25", "1.amzn2.0.4")
    assert [p["action"] for p in result["packages"]].count("none") == 4
    assert result["diff"]["before"]["docker"] == "20.10.17-1.amzn2.0.1"
    assert result["diff"]["after"]["docker"] == "20.10.25-1.amzn2.0.4"


def test_pin_below_the_installed_version_downgrades(env, run_module):
    downgraded = out.RPM_SEED_INSTALLED.replace("20.10.25\t1.amzn2.0.4", "20.10.17\t1.amzn2.0.1")
    runner = env.expect(
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED),
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_SEED_INSTALLED),
        call(YUM_INSTALLED + AL2_SORTED, stdout=out.YUM_LIST_INSTALLED_SEED),
        call(YUM_AVAILABLE + ["docker"], stdout=out.YUM_LIST_AVAILABLE),
        call(YUM + ["-y", "downgrade", "docker-20.10.17-1.amzn2.0.1"], stdout=out.YUM_COMPLETE),
        call(RPM_Q + AL2_NAMES, stdout=downgraded),
    )
    result = run_module(engine, {"versions": {"docker": "20.10.17-1.amzn2.0.1"}})
    runner.assert_done()
    assert actions(result)["docker"] == ("downgrade", "20.10.17", "1.amzn2.0.1")


# ---------------------------------------------------------------- package manager locks

def test_yum_pid_lock_held_then_released_waits_and_succeeds(env, run_module):
    lock = env.tmp / "yum.pid"
    lock.write_text(f"{os.getppid()}\n")
    env.clock.on_sleep = lambda count: count == 2 and lock.unlink()
    runner = env.expect(*al2_settled_calls())
    result = run_module(engine, {"versions": SEED_VERSIONS})
    runner.assert_done()
    assert result.rc == 0 and result["changed"] is False
    assert env.clock.sleeps == [2, 2]


def test_yum_pid_lock_held_past_timeout_fails_before_running_anything(env, run_module):
    (env.tmp / "yum.pid").write_text(f"{os.getppid()}\n")
    runner = env.expect()
    result = run_module(engine, {"lock_timeout": 5})
    assert result.rc == 1
    assert f"still held by pid {os.getppid()} after lock_timeout=5s" in result["msg"]
    assert runner.seen == []
    assert env.clock.sleeps == [2, 2, 2]


def test_stale_yum_pid_file_is_ignored(env, run_module):
    (env.tmp / "yum.pid").write_text("999999999\n")
    runner = env.expect(*al2_settled_calls())
    assert run_module(engine, {"versions": SEED_VERSIONS}).rc == 0
    runner.assert_done()
    assert env.clock.sleeps == []


def test_yum_reporting_the_lock_is_retried(env, run_module):
    runner = env.expect(
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED),
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
        call(YUM_AVAILABLE + AL2_NAMES, rc=1, stderr=out.YUM_LOCKED_ERR),
        call(YUM_AVAILABLE + AL2_NAMES, stdout=out.YUM_LIST_AVAILABLE),
    )
    result = run_module(engine, {}, check_mode=True)
    runner.assert_done()
    assert result.rc == 0 and env.clock.sleeps == [2]


def test_apt_lock_held_past_timeout_fails_without_installing(env, run_module):
    env.os_release(out.OS_RELEASE_DEBIAN12)

    def apt_waits_its_timeout():
        env.clock.now += 300

    runner = env.expect(
        call(DPKG_Q + DEB_NAMES, rc=1, stdout=out.DPKG_PARTIAL_OUT, stderr=out.DPKG_PARTIAL_ERR),
        call(["apt-cache", "madison", "containerd", "docker.io", "runc"], stdout=out.MADISON_INSTALLED),
        call(["apt-cache", "madison", "cgroup-tools", "pigz"], stdout=out.MADISON_MISSING),
        call(APT_GET + ["install", "cgroup-tools=2.0.2-2", "pigz=2.6-1"], rc=100,
             stdout=out.APT_LOCKED_OUT, stderr=out.APT_LOCKED_ERR, effect=apt_waits_its_timeout),
    )
    result = run_module(engine, {})
    runner.assert_done()
    assert result.rc == 1
    assert "lock still held after lock_timeout=300s" in result["msg"]
    assert "Could not get lock /var/lib/dpkg/lock-frontend" in result["msg"]


def test_apt_update_lists_lock_is_retried(env, run_module):
    env.os_release(out.OS_RELEASE_DEBIAN12)
    runner = env.expect(
        call(["apt-get", "-q", "update"], rc=100, stdout="Reading package lists...\n", stderr=out.APT_UPDATE_LOCKED_ERR),
        call(["apt-get", "-q", "update"], stdout="Reading package lists...\n"),
        call(DPKG_Q + DEB_NAMES, stdout=out.DPKG_FULL_OUT),
        call(["apt-cache", "madison"] + DEB_SORTED, stdout=out.MADISON_MISSING + out.MADISON_INSTALLED),
    )
    result = run_module(engine, {"update_cache": True})
    runner.assert_done()
    assert result.rc == 0 and result["changed"] is False and env.clock.sleeps == [2]


# ---------------------------------------------------------------- Amazon Linux 2023 (dnf)

def test_al2023_dnf_installs_newest_versions_and_reports_repo_and_size(env, run_module):
    env.os_release(out.OS_RELEASE_AL2023)
    runner = env.expect(
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
        call(DNF_AVAILABLE + AL2_NAMES, stdout=out.DNF_REPOQUERY_AVAILABLE),
        call(DNF + ["-y", "install", "docker-25.0.8-1.amzn2023.0.5", "containerd-2.0.5-1.amzn2023.0.2",
                    "runc-1.2.6-1.amzn2023.0.1", "libcgroup-3.0-1.amzn2023.0.1", "pigz-2.5-1.amzn2023.0.3"],
             stdout="Complete!\n"),
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_AL2023_INSTALLED),
    )
    result = run_module(engine, {})
    runner.assert_done()
    assert result["backend"] == "dnf" and result["platform"] == "amzn2023" and result["repos_enabled"] == []
    docker = result["packages"][0]
    assert (docker["name"], docker["version"], docker["release"], docker["repo"], docker["size"]) == (
        "docker", "25.0.8", "1.amzn2023.0.5", "@amazonlinux", "185 M")


def test_al2023_install_resolves_what_the_real_dnf_transaction_installed(env, run_module):
    env.os_release(out.OS_RELEASE_AL2023_POINT_RELEASE)
    runner = env.expect(
        call(RPM_Q + ["docker", "containerd"], rc=2,
             stdout="package docker is not installed\npackage containerd is not installed\n"),
        call(DNF_AVAILABLE + ["docker", "containerd"], stdout=out.DNF_REPOQUERY_AL2023_APRIL_2023),
        call(DNF + ["-y", "install", "docker-20.10.17-1.amzn2023.0.6", "containerd-1.6.19-1.amzn2023.0.1"],
             stdout=out.DNF_INSTALL_DOCKER_AL2023),
        call(RPM_Q + ["docker", "containerd"], stdout=out.RPM_AL2023_APRIL_2023_INSTALLED),
    )
    result = run_module(engine, {"packages": ["docker", "containerd"]})
    runner.assert_done()
    assert result.rc == 0 and result["platform"] == "amzn2023" and result["changed"] is True
    planned = [(name, arch, evr, repo.lstrip("@")) for name, arch, evr, repo, _size in table(result)]
    assert planned == [row[:4] for row in transaction_rows(out.DNF_INSTALL_DOCKER_AL2023)][:2]


def test_al2023_check_mode_knows_sizes_from_repoquery(env, run_module):
    env.os_release(out.OS_RELEASE_AL2023)
    env.expect(
        call(RPM_Q + ["docker"], rc=1, stdout="package docker is not installed\n"),
        call(DNF_AVAILABLE + ["docker"], stdout=out.DNF_REPOQUERY_AVAILABLE),
    )
    result = run_module(engine, {"packages": ["docker"], "versions": {"docker": "25.0.6"}}, check_mode=True)
    assert result["packages"] == [{"name": "docker", "epoch": "0", "version": "25.0.6", "release": "1.amzn2023.0.2",
                                   "arch": "x86_64", "repo": "amazonlinux", "size_bytes": 188743680,
                                   "size": "180 M", "action": "install"}]


def test_al2023_installed_repo_comes_from_dnf_from_repo(env, run_module):
    env.os_release(out.OS_RELEASE_AL2023)
    runner = env.expect(
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_AL2023_INSTALLED),
        call(DNF + ["-q", "-C", "repoquery", "--installed", "--qf",
                    "%{name}|%{epoch}|%{version}|%{release}|%{arch}|%{from_repo}|%{installsize}"] + AL2_SORTED,
             stdout=out.DNF_REPOQUERY_INSTALLED),
    )
    result = run_module(engine, {})
    runner.assert_done()
    assert result["changed"] is False
    assert {p["repo"] for p in result["packages"]} == {"@amazonlinux"}


# ---------------------------------------------------------------- Debian / Ubuntu (apt)

def test_apt_installs_missing_packages_at_the_candidate_version_then_is_idempotent(env, run_module):
    env.os_release(out.OS_RELEASE_DEBIAN12)
    first = env.expect(
        call(DPKG_Q + DEB_NAMES, rc=1, stdout=out.DPKG_PARTIAL_OUT, stderr=out.DPKG_PARTIAL_ERR),
        call(["apt-cache", "madison", "containerd", "docker.io", "runc"], stdout=out.MADISON_INSTALLED),
        call(["apt-cache", "madison", "cgroup-tools", "pigz"], stdout=out.MADISON_MISSING + out.MADISON_SOURCES_LINE),
        call(APT_GET + ["install", "cgroup-tools=2.0.2-2", "pigz=2.6-1"], stdout=out.APT_INSTALL_OUT),
        call(DPKG_Q + DEB_NAMES, stdout=out.DPKG_FULL_OUT),
    )
    result = run_module(engine, {})
    first.assert_done()
    assert result["backend"] == "apt" and result["changed"] is True
    assert actions(result) == {
        "docker.io": ("none", "20.10.24+dfsg1", "1+deb12u1+b6"),
        "containerd": ("none", "1.6.20~ds1", "1+deb12u3"),
        "runc": ("none", "1.1.5+ds1", "1+deb12u1"),
        "cgroup-tools": ("install", "2.0.2", "2"),
        "pigz": ("install", "2.6", "1"),
    }
    pigz = result["packages"][4]
    assert (pigz["arch"], pigz["repo"], pigz["size_bytes"]) == ("amd64", "@http://deb.debian.org/debian bookworm/main", 208896)

    second = env.expect(
        call(DPKG_Q + DEB_NAMES, stdout=out.DPKG_FULL_OUT),
        call(["apt-cache", "madison"] + DEB_SORTED, stdout=out.MADISON_MISSING + out.MADISON_INSTALLED),
    )
    again = run_module(engine, {})
    second.assert_done()
    assert again["changed"] is False
    assert {p["action"] for p in again["packages"]} == {"none"}


def test_apt_absent_removes_by_name_and_keeps_data(env, run_module):
    env.os_release(out.OS_RELEASE_DEBIAN12)
    gone = "".join(f"dpkg-query: no packages found matching {name}\n" for name in DEB_NAMES)
    runner = env.expect(
        call(DPKG_Q + DEB_NAMES, stdout=out.DPKG_FULL_OUT),
        call(["apt-cache", "madison"] + DEB_SORTED, stdout=out.MADISON_MISSING + out.MADISON_INSTALLED),
        call(APT_GET + ["remove"] + DEB_NAMES, stdout="Reading package lists...\n"),
        call(DPKG_Q + DEB_NAMES, rc=1, stdout=out.DPKG_REMOVED_CONFFILES_OUT, stderr=gone),
    )
    result = run_module(engine, {"state": "absent"})
    runner.assert_done()
    assert result["changed"] is True
    assert [p["name"] for p in result["packages"]] == DEB_NAMES
    assert result["packages"][0]["repo"] == "@http://deb.debian.org/debian bookworm/main"


def test_apt_logical_names_and_real_names_both_accept_pins(env, run_module):
    env.os_release(out.OS_RELEASE_DEBIAN12)
    env.expect(
        call(DPKG_Q + ["docker.io", "pigz"], rc=1, stdout=out.DPKG_PARTIAL_OUT,
             stderr="dpkg-query: no packages found matching pigz\n"),
        call(["apt-cache", "madison", "docker.io"], stdout=out.MADISON_INSTALLED),
        call(["apt-cache", "madison", "pigz"], stdout=out.MADISON_MISSING),
    )
    result = run_module(engine, {"packages": ["docker", "pigz"],
                                 "versions": {"docker": "20.10.24+dfsg1-1+deb12u1+b6", "pigz": "2.6"}},
                        check_mode=True)
    assert actions(result) == {"docker.io": ("none", "20.10.24+dfsg1", "1+deb12u1+b6"),
                               "pigz": ("install", "2.6", "1")}


# ---------------------------------------------------------------- errors, all before any change

def test_unknown_package_fails_before_installing(env, run_module):
    runner = env.expect(
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED),
        call(RPM_Q + ["docker", "dockr"], rc=2,
             stdout="package docker is not installed\npackage dockr is not installed\n"),
        call(YUM_AVAILABLE + ["docker", "dockr"], stdout=out.YUM_LIST_AVAILABLE),
    )
    result = run_module(engine, {"packages": ["docker", "dockr"]})
    runner.assert_done()
    assert result.rc == 1
    assert result["msg"].startswith("Unknown package(s) for yum: dockr")


def test_unknown_package_when_yum_matches_nothing(env, run_module):
    runner = env.expect(
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED),
        call(RPM_Q + ["dockr"], rc=1, stdout="package dockr is not installed\n"),
        call(YUM_AVAILABLE + ["dockr"], rc=1, stderr=out.YUM_NO_MATCH_ERR),
    )
    result = run_module(engine, {"packages": ["dockr"]})
    runner.assert_done()
    assert result.rc == 1 and "dockr" in result["msg"] and "Unknown package" in result["msg"]


def test_pinned_version_not_available_lists_the_available_ones(env, run_module):
    runner = env.expect(
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED),
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
        call(YUM_AVAILABLE + AL2_NAMES, stdout=out.YUM_LIST_AVAILABLE),
    )
    result = run_module(engine, {"versions": {"docker": "20.10.99"}})
    runner.assert_done()
    assert result.rc == 1
    assert result["msg"] == ("Pinned version not available: docker 20.10.99 "
                             "(available: 20.10.17-1.amzn2.0.1, 20.10.25-1.amzn2.0.4; installed: none)")


def test_unsupported_os_fails_listing_supported_ones(env, run_module):
    env.os_release(out.OS_RELEASE_ALPINE)
    runner = env.expect()
    result = run_module(engine, {})
    assert result.rc == 1
    assert result["msg"].startswith("Unsupported OS: ID=alpine VERSION_ID=3.19.1. Supported: amzn 2 (yum)")
    assert runner.seen == []


def test_forced_backend_works_on_an_undetected_os(env, run_module):
    env.os_release(out.OS_RELEASE_ALPINE)
    runner = env.expect(call(DPKG_Q + ["pigz"], stdout="pigz\t2.6-1\tamd64\tii \t204\n"),
                        call(["apt-cache", "madison", "pigz"], stdout=out.MADISON_MISSING))
    result = run_module(engine, {"backend": "apt", "packages": ["pigz"]})
    runner.assert_done()
    assert result.rc == 0 and result["backend"] == "apt" and result["platform"] == "debian"


def test_unreachable_yum_repository_fails_before_installing(env, run_module):
    runner = env.expect(
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED),
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
        call(YUM_AVAILABLE + AL2_NAMES, rc=1, stderr=out.YUM_UNREACHABLE_ERR),
    )
    result = run_module(engine, {})
    runner.assert_done()
    assert result.rc == 1
    assert result["msg"].startswith("Package repository unreachable (yum): Could not retrieve mirrorlist")


def test_unreachable_dnf_repository_fails(env, run_module):
    env.os_release(out.OS_RELEASE_AL2023)
    env.expect(
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
        call(DNF_AVAILABLE + AL2_NAMES, rc=1, stderr=out.DNF_UNREACHABLE_ERR),
    )
    result = run_module(engine, {})
    assert result.rc == 1
    assert result["msg"].startswith("Package repository unreachable (dnf): Failed to download metadata for repo")


def test_unreachable_apt_mirror_fails_on_update(env, run_module):
    env.os_release(out.OS_RELEASE_DEBIAN12)
    runner = env.expect(call(["apt-get", "-q", "update"], rc=100, stdout=out.APT_UPDATE_UNREACHABLE_OUT,
                             stderr=out.APT_UPDATE_UNREACHABLE_ERR))
    result = run_module(engine, {"update_cache": True})
    runner.assert_done()
    assert result.rc == 1
    assert result["msg"] == "Package repository unreachable (apt): Temporary failure resolving 'deb.debian.org'"


def test_unknown_extras_topic_fails(env, run_module):
    env.expect(call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED))
    result = run_module(engine, {"extras_topic": "dockre"})
    assert result.rc == 1 and result["msg"].startswith("amazon-linux-extras has no topic 'dockre'")


@pytest.mark.parametrize("args, message", [
    ({"versions": {"podman": "4.0"}}, "versions names packages that are not managed: podman"),
    ({"purge_data": True}, "purge_data is only valid with state=absent"),
    ({"packages": []}, "packages must be a non-empty list"),
    ({"versions": {"docker": ""}}, "versions: every pin needs a version"),
    ({"lock_timeout": -1}, "lock_timeout must be 0 or more seconds"),
])
def test_bad_input_is_rejected_before_any_command(env, run_module, args, message):
    runner = env.expect()
    result = run_module(engine, args)
    assert result.rc == 1 and result["msg"].startswith(message)
    assert runner.seen == []


# ---------------------------------------------------------------- review fixes

def test_purge_data_empties_a_mounted_data_volume_and_keeps_the_mount_point(env, run_module, monkeypatch):
    mounted = env.data_dirs[0]
    os.makedirs(os.path.join(mounted, "overlay2", "l"))
    with open(os.path.join(mounted, "engine-id"), "w") as handle:
        handle.write("id\n")
    os.symlink("/etc", os.path.join(mounted, "link-to-etc"))
    os.makedirs(os.path.join(env.data_dirs[1], "io.containerd.content.v1.content"))
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda path: path == mounted or real_ismount(path))
    env.expect(call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED))
    result = run_module(engine, {"state": "absent", "purge_data": True})
    assert result.rc == 0, result
    assert result["changed"] is True and result["purged_paths"] == env.data_dirs
    assert os.path.isdir(mounted) and os.listdir(mounted) == []
    assert os.path.isdir("/etc"), "a symlink inside is removed, not followed"
    assert not os.path.exists(env.data_dirs[1])


def test_purge_data_that_cannot_be_deleted_fails_clearly_after_the_removal(env, run_module, monkeypatch):
    os.makedirs(env.data_dirs[0])

    def busy(path):
        raise OSError(16, "Device or resource busy", path)

    monkeypatch.setattr(engine.shutil, "rmtree", busy)
    runner = env.expect(
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_SEED_INSTALLED),
        call(YUM_INSTALLED + AL2_SORTED, stdout=out.YUM_LIST_INSTALLED_SEED),
        call(YUM + ["-y", "remove"] + AL2_NAMES, stdout=out.YUM_COMPLETE),
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
    )
    result = run_module(engine, {"state": "absent", "purge_data": True})
    runner.assert_done()
    assert result.rc == 1
    assert result["msg"] == (f"Could not delete the data in {env.data_dirs[0]}: [Errno 16] Device or resource busy: "
                             f"'{env.data_dirs[0]}'. The package changes are done; purged_paths lists the directories "
                             "deleted before this one.")
    assert result["changed"] is True and {p["action"] for p in result["packages"]} == {"remove"}
    assert result["purged_paths"] == []


@pytest.mark.parametrize("versions, shown", [
    ({"runc": 1.1}, "runc: 1.1 (float)"),
    ({"docker": "20.10.25", "containerd": 1}, "containerd: 1 (int)"),
])
def test_unquoted_version_numbers_are_rejected_before_any_command(env, run_module, versions, shown):
    runner = env.expect()
    result = run_module(engine, {"versions": versions})
    assert result.rc == 1
    assert result["msg"] == "versions: quote every version in YAML, an unquoted 1.10 becomes the number 1.1; got " + shown
    assert runner.seen == []


def test_apt_update_that_succeeds_with_fetch_warnings_goes_on_and_warns(env, run_module):
    env.os_release(out.OS_RELEASE_DEBIAN12)
    runner = env.expect(
        call(["apt-get", "-q", "update"], stdout=out.APT_UPDATE_UNREACHABLE_OUT, stderr=out.APT_UPDATE_UNREACHABLE_ERR),
        call(DPKG_Q + DEB_NAMES, stdout=out.DPKG_FULL_OUT),
        call(["apt-cache", "madison"] + DEB_SORTED, stdout=out.MADISON_MISSING + out.MADISON_INSTALLED),
    )
    result = run_module(engine, {"update_cache": True})
    runner.assert_done()
    assert result.rc == 0 and result["changed"] is False
    assert result.warning_texts == ["apt-get succeeded but reported a repository problem (its package lists may be old): "
                                    "Temporary failure resolving 'deb.debian.org'"]


def test_apt_install_that_waited_for_the_lock_and_succeeded_is_not_rerun(env, run_module):
    env.os_release(out.OS_RELEASE_DEBIAN12)
    runner = env.expect(
        call(DPKG_Q + DEB_NAMES, rc=1, stdout=out.DPKG_PARTIAL_OUT, stderr=out.DPKG_PARTIAL_ERR),
        call(["apt-cache", "madison", "containerd", "docker.io", "runc"], stdout=out.MADISON_INSTALLED),
        call(["apt-cache", "madison", "cgroup-tools", "pigz"], stdout=out.MADISON_MISSING),
        # SYNTHETIC pairing: apt printed the REAL lock-wait line, got the lock within DPkg::Lock::Timeout, installed.
        call(APT_GET + ["install", "cgroup-tools=2.0.2-2", "pigz=2.6-1"], stdout=out.APT_LOCKED_OUT + out.APT_INSTALL_OUT),
        call(DPKG_Q + DEB_NAMES, stdout=out.DPKG_FULL_OUT),
    )
    result = run_module(engine, {})
    runner.assert_done()
    assert result.rc == 0 and result["changed"] is True and env.clock.sleeps == []

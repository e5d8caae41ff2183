"""fleetops.docker.engine: every package-manager command is asserted, in order, with real-format output.

Each case in engine_cases/*.yaml is one module run, given as data: the module's input, the command lines it must
run in order (with the rc, stdout and stderr each returns, by fixture name from fixtures/package_outputs.py) and
the result it must return; test_engine_case() feeds it through the module. The tests written in Python below are
the ones that involve a clock, a lock file or the filesystem.

The fake run_command fails the test on any command that is not the next expected one, so "nothing was changed"
is checked by the absence of install/remove calls in the expected list.
"""

import os
import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _data_purge as data_purge,
)
from ansible_collections.fleetops.docker.plugins.module_utils._package_backends import (
    BACKENDS,
)
from ansible_collections.fleetops.docker.plugins.modules import engine
from ansible_collections.fleetops.docker.tests.unit.plugins.fixtures import (
    package_outputs as out,
)

HERE = Path(__file__).parent
CASES = sorted((HERE / "engine_cases").glob("*.yaml"))
COMMANDS = yaml.safe_load((HERE / "engine_commands.yaml").read_text())

AL2_NAMES = ["docker", "containerd", "runc", "libcgroup", "pigz"]
AL2_SORTED = ["containerd", "docker", "libcgroup", "pigz", "runc"]
DEB_NAMES = ["docker.io", "containerd", "runc", "cgroup-tools", "pigz"]
DEB_SORTED = ["cgroup-tools", "containerd", "docker.io", "pigz", "runc"]

RPM_Q = COMMANDS["RPM_Q"]
DPKG_Q = COMMANDS["DPKG_Q"]
YUM = COMMANDS["YUM"]
YUM_AVAILABLE = COMMANDS["YUM_AVAILABLE"]
YUM_INSTALLED = COMMANDS["YUM_INSTALLED"]
APT_GET = COMMANDS["APT_GET"]
EXTRAS_LIST = ["amazon-linux-extras", "list"]

AL2_STACK_PINS = {"docker": "20.10.25-1.amzn2.0.4", "containerd": "1.7.11-1.amzn2.0.1", "runc": "1.1.11-1.amzn2"}


def transaction_rows(text):
    """Rows of a yum/dnf transaction table: ' name  arch  version-release  repository  size unit'."""
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if line.startswith(" ") and len(fields) == 6 and fields[5] in ("k", "M", "G"):
            rows.append((fields[0], fields[1], fields[2], fields[3], f"{fields[4]} {fields[5]}"))
    return rows


# The real AL2 "Removing:" table: name, arch, version-release, repository, size.
AL2_REMOVAL_TABLE = transaction_rows(out.YUM_REMOVE_TABLE_AL2)


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
        # purge_data reads mounts and processes from proc_root: the real mount table, but none of this machine's
        # container shims (its own dockerd's containers are not the module's business here).
        proc = tmp_path / "proc"
        proc.mkdir()
        (proc / "self").symlink_to("/proc/self")
        self.proc = proc
        self.system = engine.System(
            os_release=str(tmp_path / "os-release"), data_dirs=self.data_dirs,
            lock_files={name: [str(tmp_path / f"{name}.pid")] for name in BACKENDS},
            clock=self.clock.clock, sleep=self.clock.sleep, proc_root=str(proc))
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


def al2_settled_calls():
    return [
        call(EXTRAS_LIST, stdout=out.EXTRAS_LIST_DOCKER_ENABLED),
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_AL2_STACK_INSTALLED),
        call(YUM_INSTALLED + AL2_SORTED, stdout=out.YUM_LIST_INSTALLED_AL2_STACK),
    ]


# ---------------------------------------------------------------- the cases in engine_cases/

CASE_KEYS = {"os_release", "input", "flags", "run_command", "rc", "output", "packages", "msg_startswith",
             "msg_contains", "warnings", "warnings_contain", "transaction_table"}


def fixture_text(value):
    """A fixture's name (an UPPER_CASE name in package_outputs), a list of them (concatenated), or literal text."""
    if isinstance(value, list):
        return "".join(fixture_text(part) for part in value)
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", value):
        return getattr(out, value)
    return value


def command_line(words):
    """[NAME, arg, ...] -> the command NAME stands for in engine_commands.yaml, then the args."""
    head, *rest = words
    return COMMANDS[head] + rest if head in COMMANDS else list(words)


def transaction_table(result, of, columns, first=None, sorted_rows=False):
    """The reported packages as yum/dnf table rows next to the rows of the transcript `of`."""
    got = [row[:columns] for row in table(result)]
    if columns == 4:  # name, arch, version-release, repo: the transcript's repo has no leading '@'
        got = [(name, arch, evr, repo.lstrip("@")) for name, arch, evr, repo in got]
    want = [row[:columns] for row in transaction_rows(fixture_text(of))][:first]
    return (sorted(got), sorted(want)) if sorted_rows else (got, want)


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_engine_case(env, run_module, path):
    case = yaml.safe_load(path.read_text())
    assert set(case) <= CASE_KEYS, f"unknown keys: {sorted(set(case) - CASE_KEYS)}"
    env.os_release(fixture_text(case.get("os_release", "OS_RELEASE_AL2")))
    runner = env.expect(*[call(command_line(step["command"]), step.get("rc", 0), fixture_text(step.get("out", "")),
                               fixture_text(step.get("err", ""))) for step in case["run_command"]])
    flags = case.get("flags", {})
    result = run_module(engine, case["input"], check_mode=flags.get("check", False), diff=flags.get("diff", False))

    runner.assert_done()
    assert result.rc == case["rc"], result
    for key, value in case.get("output", {}).items():
        assert result[key] == value, key
    if "packages" in case:  # one entry per reported package, in order; each entry's fields must match
        assert len(result["packages"]) == len(case["packages"])
        for got, want in zip(result["packages"], case["packages"]):
            assert {key: got[key] for key in want} == want
    if "msg_startswith" in case:
        assert result["msg"].startswith(case["msg_startswith"])
    for text in case.get("msg_contains", []):
        assert text in result["msg"]
    if "warnings" in case:
        assert result.warning_texts == case["warnings"]
    for text in case.get("warnings_contain", []):
        assert text in str(result["warnings"])
    if "transaction_table" in case:
        spec = case["transaction_table"]
        got, want = transaction_table(result, spec["of"], spec["columns"], spec.get("first"), spec.get("sorted", False))
        assert got == want


# ---------------------------------------------------------------- Amazon Linux 2 (yum + amazon-linux-extras)

def test_al2_removal_table_is_read_from_the_real_transcript():
    assert [row[0] for row in AL2_REMOVAL_TABLE] == ["containerd", "docker", "libcgroup", "pigz", "runc"]
    assert AL2_REMOVAL_TABLE[1] == ("docker", "x86_64", "20.10.25-1.amzn2.0.4", "@amzn2extra-docker", "170 M")


def test_al2_absent_removes_the_stack_and_reports_the_al2_removal_table(env, run_module):
    os.makedirs(env.data_dirs[0])
    runner = env.expect(
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_AL2_STACK_INSTALLED),
        call(YUM_INSTALLED + AL2_SORTED, stdout=out.YUM_LIST_INSTALLED_AL2_STACK),
        call(YUM + ["-y", "remove", "--"] + AL2_NAMES, stdout=out.YUM_COMPLETE),
        call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED),
    )
    result = run_module(engine, {"state": "absent"})
    runner.assert_done()
    assert result["changed"] is True
    assert sorted(table(result)) == AL2_REMOVAL_TABLE
    assert {p["action"] for p in result["packages"]} == {"remove"}
    assert result["purged_paths"] == []
    assert os.path.isdir(env.data_dirs[0]), "images must be kept without purge_data"


def test_absent_purge_data_deletes_docker_and_containerd_state(env, run_module):
    for path in env.data_dirs:
        os.makedirs(os.path.join(path, "image"))
    env.expect(call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED))
    result = run_module(engine, {"state": "absent", "purge_data": True})
    assert result["changed"] is True
    assert result["purged_paths"] == env.data_dirs
    assert not any(os.path.exists(path) for path in env.data_dirs)


# ---------------------------------------------------------------- package manager locks

def test_yum_pid_lock_held_then_released_waits_and_succeeds(env, run_module):
    lock = env.tmp / "yum.pid"
    lock.write_text(f"{os.getppid()}\n")
    env.clock.on_sleep = lambda count: count == 2 and lock.unlink()
    runner = env.expect(*al2_settled_calls())
    result = run_module(engine, {"versions": AL2_STACK_PINS})
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
    assert run_module(engine, {"versions": AL2_STACK_PINS}).rc == 0
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
        call(["apt-cache", "madison", "--", "containerd", "docker.io", "runc"], stdout=out.MADISON_INSTALLED),
        call(["apt-cache", "madison", "--", "cgroup-tools", "pigz"], stdout=out.MADISON_MISSING),
        call(APT_GET + ["install", "--", "cgroup-tools=2.0.2-2", "pigz=2.6-1"], rc=100,
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
        call(DPKG_Q + DEB_NAMES, rc=1, stdout=out.DPKG_PARTIAL_OUT, stderr=out.DPKG_PARTIAL_ERR),
        call(["apt-get", "-q", "update"], rc=100, stdout="Reading package lists...\n", stderr=out.APT_UPDATE_LOCKED_ERR),
        call(["apt-get", "-q", "update"], stdout="Reading package lists...\n"),
        call(["apt-cache", "madison", "--", "containerd", "docker.io", "runc"], stdout=out.MADISON_INSTALLED),
        call(["apt-cache", "madison", "--", "cgroup-tools", "pigz"], stdout=out.MADISON_MISSING),
        call(APT_GET + ["install", "--", "cgroup-tools=2.0.2-2", "pigz=2.6-1"], stdout=out.APT_INSTALL_OUT),
        call(DPKG_Q + DEB_NAMES, stdout=out.DPKG_FULL_OUT),
    )
    result = run_module(engine, {"update_cache": True})
    runner.assert_done()
    assert result.rc == 0 and result["changed"] is True and env.clock.sleeps == [2]


# ---------------------------------------------------------------- purge_data on real directories; apt after a lock wait

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

    monkeypatch.setattr(data_purge.os, "rmdir", busy)
    runner = env.expect(
        call(RPM_Q + AL2_NAMES, stdout=out.RPM_AL2_STACK_INSTALLED),
        call(YUM_INSTALLED + AL2_SORTED, stdout=out.YUM_LIST_INSTALLED_AL2_STACK),
        call(YUM + ["-y", "remove", "--"] + AL2_NAMES, stdout=out.YUM_COMPLETE),
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


def test_apt_install_that_waited_for_the_lock_and_succeeded_is_not_rerun(env, run_module):
    env.os_release(out.OS_RELEASE_DEBIAN12)
    runner = env.expect(
        call(DPKG_Q + DEB_NAMES, rc=1, stdout=out.DPKG_PARTIAL_OUT, stderr=out.DPKG_PARTIAL_ERR),
        call(["apt-cache", "madison", "--", "containerd", "docker.io", "runc"], stdout=out.MADISON_INSTALLED),
        call(["apt-cache", "madison", "--", "cgroup-tools", "pigz"], stdout=out.MADISON_MISSING),
        # SYNTHETIC pairing: apt printed the REAL lock-wait line, got the lock within DPkg::Lock::Timeout, installed.
        call(APT_GET + ["install", "--", "cgroup-tools=2.0.2-2", "pigz=2.6-1"], stdout=out.APT_LOCKED_OUT + out.APT_INSTALL_OUT),
        call(DPKG_Q + DEB_NAMES, stdout=out.DPKG_FULL_OUT),
    )
    result = run_module(engine, {})
    runner.assert_done()
    assert result.rc == 0 and result["changed"] is True and env.clock.sleeps == []

"""engine: package names that would reach the package manager as options, and purge_data next to mounts and
running containers. Mount cases use a real tmpfs (skipped where mounting is not allowed); the shim case runs a
real process named like containerd's shim."""

import os
import shutil
import subprocess
import sys
import time

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _data_purge as data_purge,
)
from ansible_collections.fleetops.docker.plugins.module_utils._package_backends import (
    BACKENDS,
    Backend,
)
from ansible_collections.fleetops.docker.plugins.module_utils._package_versions import (
    matches_pin,
)
from ansible_collections.fleetops.docker.plugins.modules import engine
from ansible_collections.fleetops.docker.tests.unit.plugins.fixtures import (
    package_outputs as out,
)

# env and run_module are the engine tests' fixtures (pytest finds them by name).
from ansible_collections.fleetops.docker.tests.unit.plugins.modules.test_engine import (  # noqa: F401  # pylint: disable=unused-import
    AL2_NAMES,
    RPM_Q,
    call,
    env,
    run_module,
)


@pytest.mark.parametrize("args, shown", [
    ({"packages": ["-c /tmp/x.conf"]}, "'-c /tmp/x.conf'"),
    ({"packages": ["docker", "--config=/tmp/evil.conf"]}, "'--config=/tmp/evil.conf'"),
    ({"packages": ["-y"]}, "'-y'"),
    ({"packages": ["docker;reboot"]}, "'docker;reboot'"),
    ({"packages": ["docker", " pigz"]}, "' pigz'"),
    ({"versions": {"-c": "1.0"}}, "'-c'"),
    ({"versions": {"docker": "--setopt=x"}}, "'docker=--setopt=x'"),
    ({"versions": {"docker": "20.10 -c /x"}}, "'docker=20.10 -c /x'"),
    ({"extras_topic": "-c/tmp/x"}, "'extras_topic=-c/tmp/x'"),
])
def test_names_that_a_package_manager_would_read_as_options_are_refused(env, run_module, args, shown):  # noqa: F811
    env.expect()  # no command may run

    result = run_module(engine, args)

    assert result.rc == 1
    assert result["msg"].startswith("Invalid package names or versions")
    assert shown in result["msg"] and "nothing was run" in result["msg"]


@pytest.mark.parametrize("name", ["docker.io", "containerd.io", "docker-ce", "libstdc++", "docker.io:amd64", "python3_pkg"])
def test_real_package_names_pass(name):
    assert engine.PACKAGE_NAME.match(name)


@pytest.mark.parametrize("version", ["20.10.25-1.amzn2.0.4", "3:18.09.9-3.el7", "26.1.5+dfsg1-9+b9", "1.0~rc1", "2.6-1"])
def test_real_versions_pass(version):
    assert engine.VERSION_TEXT.match(version)


@pytest.mark.parametrize("installed, pin, matches", [
    ("20.10.25", "20.10.2", False),
    ("20.10.2", "20.10.25", False),
    ("20.10.25", "20.10.25", True),
    ("20.10.25", "20.10.25-1.amzn2.0.4", True),
    ("20.10.25", "20.10.25-1", False),
])
def test_a_pin_is_never_a_prefix(installed, pin, matches):
    record = {"name": "docker", "epoch": "0", "version": installed, "release": "1.amzn2.0.4", "arch": "x86_64"}
    assert matches_pin(record, pin) is matches


# ---------------------------------------------------------------- purge_data
@pytest.fixture
def tmpfs(tmp_path):
    """mount(target) mounts a small tmpfs there; everything is unmounted at the end."""
    mounted = []

    def mount(target):
        os.makedirs(target, exist_ok=True)
        mounting = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", target]
        if os.geteuid() != 0 or subprocess.run(mounting, capture_output=True, check=False).returncode:
            pytest.skip("mounting a tmpfs needs root with CAP_SYS_ADMIN")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", target], capture_output=True, check=False)


def test_purge_is_refused_before_any_change_while_a_volume_is_mounted_below(env, run_module, tmpfs):  # noqa: F811
    data = env.data_dirs[0]
    volume = tmpfs(os.path.join(data, "volumes", "pgdata", "_data"))
    with open(os.path.join(volume, "PG_VERSION"), "w") as handle:
        handle.write("15\n")
    os.makedirs(os.path.join(data, "image", "overlay2"))
    env.expect()  # refused before even the installed query: the packages stay too

    result = run_module(engine, {"state": "absent", "purge_data": True})

    assert result.rc == 1
    assert result["msg"].startswith("Refusing purge_data, nothing was changed: still mounted below ")
    assert volume in result["msg"]
    assert open(os.path.join(volume, "PG_VERSION")).read() == "15\n"
    assert os.path.isdir(os.path.join(data, "image", "overlay2"))
    assert result["purged_paths"] == []


def test_purge_is_refused_while_a_container_shim_runs(env, run_module, tmp_path):  # noqa: F811
    shim = tmp_path / "containerd-shim-runc-v2"
    shutil.copy(shutil.which("sleep"), str(shim))
    process = subprocess.Popen([str(shim), "30"])
    try:
        for _attempt in range(50):  # comm is set at exec
            if open(f"/proc/{process.pid}/comm").read().strip() == "containerd-shim":
                break
            time.sleep(0.02)
        env.system = env.system._replace(proc_root="/proc")
        os.makedirs(os.path.join(env.data_dirs[0], "containers"))
        env.expect()

        result = run_module(engine, {"state": "absent", "purge_data": True})
    finally:
        process.kill()
        process.wait()

    assert result.rc == 1
    assert f"pid {process.pid} (containerd-shim)" in result["msg"]
    assert "live-restore" in result["msg"]
    assert os.path.isdir(os.path.join(env.data_dirs[0], "containers"))


def test_deletion_never_crosses_into_another_filesystem(tmp_path, tmpfs):
    data = str(tmp_path / "lib-docker")
    volume = tmpfs(os.path.join(data, "volumes", "nfs", "_data"))
    os.makedirs(os.path.join(volume, "keep", "deeper"))
    with open(os.path.join(volume, "keep", "file"), "w") as handle:
        handle.write("precious")
    os.makedirs(os.path.join(data, "overlay2", "abc"))
    with open(os.path.join(data, "overlay2", "abc", "layer"), "w") as handle:
        handle.write("x")

    with pytest.raises(data_purge.PurgeError) as raised:
        data_purge.delete_data(data)

    assert volume in str(raised.value)
    assert open(os.path.join(volume, "keep", "file")).read() == "precious"
    assert os.path.isdir(os.path.join(volume, "keep", "deeper")), "an empty directory on the mount is kept too"
    assert not os.path.exists(os.path.join(data, "overlay2"))


def test_mountinfo_escapes_are_decoded(tmp_path, tmpfs):
    target = tmpfs(str(tmp_path / "data" / "with space"))

    assert data_purge.mounts_below(str(tmp_path / "data")) == [target]
    assert data_purge.mounts_below(str(tmp_path / "dat")) == []


def test_check_mode_purge_deletes_nothing(env, run_module):  # noqa: F811
    for path in env.data_dirs:
        os.makedirs(os.path.join(path, "image"))
    env.expect(call(RPM_Q + AL2_NAMES, rc=5, stdout=out.RPM_NONE_INSTALLED))

    result = run_module(engine, {"state": "absent", "purge_data": True}, check_mode=True)

    assert result.rc == 0 and result["changed"] is True
    assert result["purged_paths"] == env.data_dirs
    assert all(os.path.isdir(os.path.join(path, "image")) for path in env.data_dirs)


def test_shim_scan_reads_comm_of_real_processes():
    assert (os.getpid(), "containerd-shim") not in data_purge.running_shims("/proc")
    assert sys.platform != "linux" or data_purge.running_shims("/nonexistent") == []


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("key", ["installed", "installed_repos", "available", "install", "downgrade", "remove"])
def test_every_command_that_takes_package_names_ends_the_options_first(backend, key):
    runner = Backend(backend, lambda argv: (0, "", ""), 0, lambda seconds: None, lambda: 0.0)

    argv = runner.argv(BACKENDS[backend][key], ["-c", "/tmp/evil.conf"], extra=["--disableplugin=versionlock"])

    assert argv[-3:] == ["--", "-c", "/tmp/evil.conf"]
    assert argv.index("--disableplugin=versionlock") < argv.index("--") if backend != "apt" else True

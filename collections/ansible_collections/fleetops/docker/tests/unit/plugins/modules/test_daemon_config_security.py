"""daemon_config: symlinks, secrets in syslog/results/diff, credential file modes, backups, a full disk.

Real files under tmp_path; the syslog test captures what AnsibleModule hands to syslog/journald."""

import errno
import json
import os
import shutil
import stat
import subprocess

import pytest
from ansible.module_utils import basic
from ansible_collections.fleetops.docker.plugins.modules import daemon_config

USER_UID = 4242  # an ordinary user that owns a home directory in these tests

SECRETS = {
    "auth": "ZGVwbG95OlMzQ1JFVC1hdXRo",
    "identitytoken": "S3CRET-identity-token",
    "proxy": "S3CRET-proxy-pw",
    "header": "S3CRET-header-token",
    "mirror": "S3CRET-mirror-pw",
}
SECRET_CONFIG = {
    "auths": {"registry.example.com": {"auth": SECRETS["auth"], "identitytoken": SECRETS["identitytoken"]}},
    "proxies": {"default": {"httpProxy": f"http://proxyuser:{SECRETS['proxy']}@proxy.example.com:3128",
                            "noProxy": "localhost"}},
    "HttpHeaders": {"X-Meta-Token": SECRETS["header"]},
    "registry-mirrors": [f"https://mirroruser:{SECRETS['mirror']}@mirror.example.com"],
}


def mode_of(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def assert_no_secret(text):
    for name, secret in SECRETS.items():
        assert secret not in text, f"{name} secret leaked"


# ---------------------------------------------------------------- symlinks
def test_daemon_json_that_is_a_symlink_is_refused_and_kept(tmp_path, run_module):
    target = tmp_path / "elsewhere.json"
    target.write_text('{"debug": false}')
    link = tmp_path / "daemon.json"
    link.symlink_to(target)

    result = run_module(daemon_config, {"path": str(link), "config": {"debug": True}})

    assert result.rc == 1
    assert "is a symbolic link" in result["msg"] and "left unchanged" in result["msg"]
    assert os.path.islink(str(link)) and os.readlink(str(link)) == str(target)
    assert target.read_text() == '{"debug": false}'


def user_home_with_docker_link(tmp_path, link_target):
    """home/user (owned by USER_UID) whose .docker is the user's symlink to link_target."""
    home = tmp_path / "home" / "user"
    home.mkdir(parents=True)
    os.chown(str(home), USER_UID, USER_UID)
    dot_docker = home / ".docker"
    dot_docker.symlink_to(link_target)
    os.lchown(str(dot_docker), USER_UID, USER_UID)
    return dot_docker


def test_user_docker_dir_symlinked_to_roots_is_refused(tmp_path, run_module):
    root_docker = tmp_path / "root" / ".docker"
    root_docker.mkdir(parents=True)
    root_config = root_docker / "config.json"
    root_config.write_text(json.dumps({"auths": {"private.example.com": {"auth": SECRETS["auth"]}}}))
    os.chmod(str(root_config), 0o600)
    dot_docker = user_home_with_docker_link(tmp_path, root_docker)

    result = run_module(daemon_config, {"path": str(dot_docker / "config.json"), "owner": str(USER_UID),
                                        "config": {"credHelpers": {"1.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"}}})

    assert result.rc == 1
    assert f"{dot_docker} is a symbolic link" in result["msg"] and "uid 4242" in result["msg"]
    assert os.stat(str(root_config)).st_uid == 0 and mode_of(root_config) == 0o600
    assert json.loads(root_config.read_text()) == {"auths": {"private.example.com": {"auth": SECRETS["auth"]}}}
    assert sorted(os.listdir(str(root_docker))) == ["config.json"]
    assert_no_secret(json.dumps(result))


def test_user_config_json_symlinked_to_a_root_file_is_refused(tmp_path, run_module):
    secret_file = tmp_path / "root-only.json"
    secret_file.write_text(json.dumps({"auths": {"r.example.com": {"auth": SECRETS["auth"]}}}))
    os.chmod(str(secret_file), 0o600)
    home = tmp_path / "home"
    home.mkdir()
    os.chown(str(home), USER_UID, USER_UID)
    (home / "config.json").symlink_to(secret_file)

    result = run_module(daemon_config, {"path": str(home / "config.json"), "owner": str(USER_UID),
                                        "config": {"credsStore": "ecr-login"}})

    assert result.rc == 1 and "is a symbolic link" in result["msg"]
    assert os.stat(str(secret_file)).st_uid == 0
    assert json.loads(secret_file.read_text()) == {"auths": {"r.example.com": {"auth": SECRETS["auth"]}}}
    assert_no_secret(json.dumps(result))


def test_a_root_made_directory_symlink_is_followed(tmp_path, run_module):
    real = tmp_path / "srv-docker"
    real.mkdir()
    (tmp_path / "etc-docker").symlink_to(real)

    result = run_module(daemon_config, {"path": str(tmp_path / "etc-docker" / "daemon.json"), "config": {"debug": True}})

    assert result.rc == 0, result.get("msg")
    assert json.loads((real / "daemon.json").read_text()) == {"debug": True}


# ---------------------------------------------------------------- secrets
@pytest.fixture
def syslog_lines(monkeypatch):
    """What AnsibleModule.log() sends to syslog (journald is switched off so syslog is the sink)."""
    lines = []
    monkeypatch.setattr(basic, "has_journal", False)
    monkeypatch.setattr(basic.syslog, "openlog", lambda *args, **kwargs: None)
    monkeypatch.setattr(basic.syslog, "syslog", lambda *args: lines.append(args[-1]))
    return lines


def test_invoked_with_line_in_syslog_carries_no_secret(tmp_path, run_module, syslog_lines):
    path = tmp_path / "config.json"

    result = run_module(daemon_config, {"path": str(path), "config": SECRET_CONFIG})

    assert result.rc == 0, result.get("msg")
    invoked = [line for line in syslog_lines if "Invoked with" in line]
    assert len(invoked) == 1, syslog_lines
    assert "config=" in invoked[0] and "mirror.example.com" in invoked[0]
    for line in syslog_lines:
        assert_no_secret(line)


def test_secrets_in_urls_and_headers_are_masked_in_result_invocation_and_diff(tmp_path, run_module):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"HttpHeaders": {"X-Old": "S3CRET-header-token"}}))

    result = run_module(daemon_config, {"path": str(path), "config": SECRET_CONFIG}, diff=True)

    assert result.rc == 0, result.get("msg")
    text = json.dumps(result)
    assert_no_secret(text)
    proxy = result["config"]["proxies"]["default"]["httpProxy"]
    assert proxy == "http://proxyuser:********@proxy.example.com:3128"
    assert result["config"]["registry-mirrors"] == ["https://mirroruser:********@mirror.example.com"]
    assert result["config"]["HttpHeaders"] == {"X-Meta-Token": "********", "X-Old": "********"}
    assert result["config"]["proxies"]["default"]["noProxy"] == "localhost"
    assert "proxy.example.com" in result["diff"]["after"]
    assert json.loads(path.read_text())["proxies"]["default"]["httpProxy"].endswith(f":{SECRETS['proxy']}@proxy.example.com:3128")


def test_a_url_password_is_masked_in_an_error_message_too(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    path.write_text("[1]")

    result = run_module(daemon_config, {"path": str(path), "config": SECRET_CONFIG})

    assert result.rc == 1
    assert_no_secret(json.dumps(result))


# ---------------------------------------------------------------- modes
@pytest.fixture
def mode_trace(monkeypatch):
    """Mode of `watched[0]` after every chmod/rename the module makes: the file must never be readable by others."""
    watched, seen = [], []

    def tracing(function):
        def wrapper(*args, **kwargs):
            outcome = function(*args, **kwargs)
            if watched and os.path.lexists(watched[0]):
                seen.append(mode_of(watched[0]))
            return outcome
        return wrapper

    for name in ("chmod", "lchmod", "rename", "replace", "fchmod"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, tracing(getattr(os, name)))
    return watched, seen


def test_new_config_json_is_0600_from_the_moment_it_exists(tmp_path, run_module, mode_trace):
    path = tmp_path / "ec2-user" / ".docker" / "config.json"
    watched, seen = mode_trace
    watched.append(str(path))

    result = run_module(daemon_config, {"path": str(path), "config": {"auths": {"r.example.com": {"auth": SECRETS["auth"]}}}})

    assert result.rc == 0, result.get("msg")
    assert seen and set(seen) == {0o600}, [oct(m) for m in seen]
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700


def test_explicit_mode_0600_is_never_preceded_by_0644(tmp_path, run_module, mode_trace):
    path = tmp_path / "daemon.json"
    watched, seen = mode_trace
    watched.append(str(path))

    result = run_module(daemon_config, {"path": str(path), "mode": "0600", "config": {"debug": True}})

    assert result.rc == 0, result.get("msg")
    assert set(seen) == {0o600}, [oct(m) for m in seen]


def test_new_plain_daemon_json_is_still_0644(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    run_module(daemon_config, {"path": str(path), "config": {"debug": True}})
    assert mode_of(path) == 0o644


def backup_files(directory, name):
    return sorted(p for p in os.listdir(str(directory)) if p.startswith(name + ".") and p.endswith("~"))


def test_backups_are_0600_even_of_a_world_readable_file(tmp_path, run_module):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"r.example.com": {"auth": "b2xkOnJvdGF0ZWQ="}}}))
    os.chmod(str(path), 0o644)

    result = run_module(daemon_config, {"path": str(path), "config": {"auths": {"r.example.com": {"auth": SECRETS["auth"]}}}})

    assert result.rc == 0, result.get("msg")
    assert mode_of(result["backup_file"]) == 0o600
    assert "b2xkOnJvdGF0ZWQ=" in open(result["backup_file"]).read()


def test_old_backups_are_pruned_to_backup_keep(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    path.write_text("{}")
    for n in range(6):
        old = tmp_path / f"daemon.json.{100 + n}.2020-01-0{n + 1}@10:00:00~"
        old.write_text("{}")
        os.utime(str(old), (1577872800 + n * 86400,) * 2)
    unrelated = tmp_path / "daemon.json.bak"
    unrelated.write_text("{}")

    result = run_module(daemon_config, {"path": str(path), "backup_keep": 3, "config": {"debug": True}})

    assert result.rc == 0, result.get("msg")
    kept = backup_files(tmp_path, "daemon.json")
    assert len(kept) == 3
    assert os.path.basename(result["backup_file"]) in kept
    assert "daemon.json.105.2020-01-06@10:00:00~" in kept and "daemon.json.104.2020-01-05@10:00:00~" in kept
    assert unrelated.exists()


@pytest.mark.parametrize("keep", [0, -1])
def test_backup_keep_below_one_is_refused(tmp_path, run_module, keep):
    result = run_module(daemon_config, {"path": str(tmp_path / "d.json"), "backup_keep": keep, "config": {"debug": True}})
    assert result.rc == 1 and "backup_keep must be 1 or more" in result["msg"]


# ---------------------------------------------------------------- a full disk
def fail_with_enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_backup_on_a_full_disk_fails_clearly_and_loses_nothing(tmp_path, run_module, monkeypatch):
    path = tmp_path / "daemon.json"
    original = b'{"log-driver": "json-file"}\n'
    path.write_bytes(original)
    for module, name in ((os, "write"), (os, "sendfile"), (shutil, "copyfileobj")):
        monkeypatch.setattr(module, name, fail_with_enospc)

    result = run_module(daemon_config, {"path": str(path), "config": {"debug": True}})

    assert result.rc == 1
    assert "No space left on device" in result["msg"] and "left unchanged" in result["msg"]
    assert "Traceback" not in json.dumps(result)
    assert path.read_bytes() == original
    assert os.listdir(str(tmp_path)) == ["daemon.json"], "no partial backup or temporary file is left"


@pytest.fixture
def tiny_filesystem(tmp_path):
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounting = ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount_point)]
    if os.geteuid() != 0 or subprocess.run(mounting, capture_output=True, check=False).returncode != 0:
        pytest.skip("mounting a tmpfs needs root with CAP_SYS_ADMIN; the ENOSPC case is also covered by the patched test")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_backup_on_a_really_full_tmpfs_fails_clearly_and_loses_nothing(tiny_filesystem, run_module):
    path = tiny_filesystem / "daemon.json"
    original = json.dumps({"labels": ["x" * 100] * 40}).encode()  # ~4 KiB
    path.write_bytes(original)
    filler = tiny_filesystem / "filler"
    with open(str(filler), "wb") as handle:
        try:
            handle.write(b"\0" * 64 * 1024)
            handle.flush()
        except OSError:
            pass

    result = run_module(daemon_config, {"path": str(path), "config": {"debug": True}})

    assert result.rc == 1
    assert "No space left on device" in result["msg"]
    assert path.read_bytes() == original
    assert sorted(os.listdir(str(tiny_filesystem))) == ["daemon.json", "filler"]


# ---------------------------------------------------------------- removal rule
def test_an_empty_object_in_the_removal_list_deletes_the_whole_key(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"log-opts": {"max-size": "10m", "max-file": "3"}, "debug": True}))

    result = run_module(daemon_config, {"path": str(path), "state": "absent", "config": {"log-opts": {}}})

    assert result["changed"] is True
    assert json.loads(path.read_text()) == {"debug": True}

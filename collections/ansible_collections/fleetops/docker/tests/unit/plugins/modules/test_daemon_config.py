"""fleetops.docker.daemon_config on real files under tmp_path."""

import json
import os
import stat

from ansible_collections.fleetops.docker.plugins.modules import daemon_config

EXISTING = b'{\n    "storage-driver": "overlay2",\n    "log-driver": "json-file",\n' \
           b'    "log-opts": {"max-size": "10m", "labels": "team"},\n    "registry-mirrors": ["http://old.mirror"]\n}\n'


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def backups(directory, name):
    return sorted(p for p in os.listdir(str(directory)) if p.startswith(name + ".") and p != name)


def test_merge_keeps_unmanaged_keys_merges_nested_objects_and_replaces_lists(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    path.write_bytes(EXISTING)
    os.chmod(str(path), 0o640)
    result = run_module(daemon_config, {"path": str(path), "config": {
        "log-opts": {"max-file": "3"}, "registry-mirrors": ["http://registry.fleet.test"], "live-restore": True}})
    expected = {"storage-driver": "overlay2", "log-driver": "json-file",
                "log-opts": {"max-size": "10m", "labels": "team", "max-file": "3"},
                "registry-mirrors": ["http://registry.fleet.test"], "live-restore": True}
    assert result["changed"] is True and result["restart_required"] is True
    assert result["config"] == expected
    assert json.loads(path.read_text()) == expected
    assert mode_of(path) == 0o640, "an existing file keeps its mode"
    with open(result["backup_file"], "rb") as backup:
        assert backup.read() == EXISTING


def test_second_run_is_idempotent_and_makes_no_backup(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    path.write_bytes(EXISTING)
    args = {"path": str(path), "config": {"log-opts": {"max-file": "3"}}}
    assert run_module(daemon_config, args)["changed"] is True
    written = path.read_bytes()
    again = run_module(daemon_config, args)
    assert again["changed"] is False and again["restart_required"] is False and "backup_file" not in again
    assert path.read_bytes() == written
    assert len(backups(tmp_path, "daemon.json")) == 1


def test_semantically_equal_file_is_not_rewritten_for_formatting(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    path.write_bytes(EXISTING)
    result = run_module(daemon_config, {"path": str(path), "config": {"log-opts": {"labels": "team"},
                                                                      "log-driver": "json-file"}})
    assert result["changed"] is False
    assert path.read_bytes() == EXISTING
    assert backups(tmp_path, "daemon.json") == []


def test_invalid_json_is_refused_and_left_byte_for_byte(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    broken = b'{"log-driver": "json-file",, }\n'
    path.write_bytes(broken)
    result = run_module(daemon_config, {"path": str(path), "config": {"live-restore": True}})
    assert result.rc == 1
    assert result["msg"].startswith(f"Cannot parse {path} as JSON")
    assert "left unchanged" in result["msg"]
    assert path.read_bytes() == broken
    assert backups(tmp_path, "daemon.json") == []


def test_json_that_is_not_an_object_is_refused(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    path.write_bytes(b'["not", "an", "object"]')
    result = run_module(daemon_config, {"path": str(path), "config": {"debug": True}})
    assert result.rc == 1 and "holds a JSON list, not an object" in result["msg"]
    assert path.read_bytes() == b'["not", "an", "object"]'


def test_missing_file_and_parent_are_created_with_0755_and_0644(tmp_path, run_module):
    path = tmp_path / "etc-docker" / "daemon.json"
    result = run_module(daemon_config, {"path": str(path), "config": {"insecure-registries": ["quay.io"]}})
    assert result["changed"] is True and "backup_file" not in result
    assert json.loads(path.read_text()) == {"insecure-registries": ["quay.io"]}
    assert mode_of(path) == 0o644 and mode_of(path.parent) == 0o755


def test_missing_file_with_nothing_to_set_is_not_created(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    result = run_module(daemon_config, {"path": str(path), "config": {}})
    assert result["changed"] is False and result["config"] == {}
    assert not path.exists()


def test_check_mode_writes_nothing(tmp_path, run_module):
    existing = tmp_path / "daemon.json"
    existing.write_bytes(EXISTING)
    result = run_module(daemon_config, {"path": str(existing), "config": {"debug": True}}, check_mode=True)
    assert result["changed"] is True and result["config"]["debug"] is True
    assert existing.read_bytes() == EXISTING and backups(tmp_path, "daemon.json") == []

    missing = tmp_path / "new" / "daemon.json"
    result = run_module(daemon_config, {"path": str(missing), "config": {"debug": True}}, check_mode=True)
    assert result["changed"] is True
    assert not missing.parent.exists()


def test_diff_shows_json_text_before_and_after(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    path.write_bytes(b'{"log-driver": "json-file"}')
    result = run_module(daemon_config, {"path": str(path), "config": {"live-restore": True}},
                        check_mode=True, diff=True)
    assert result["diff"]["before"] == '{\n  "log-driver": "json-file"\n}\n'
    assert result["diff"]["after"] == '{\n  "log-driver": "json-file",\n  "live-restore": true\n}\n'
    assert result["diff"]["before_header"] == str(path)


def test_absent_removes_nested_keys_or_whole_keys(tmp_path, run_module):
    path = tmp_path / "daemon.json"
    path.write_bytes(EXISTING)
    result = run_module(daemon_config, {"path": str(path), "state": "absent",
                                        "config": {"log-opts": {"labels": None}, "registry-mirrors": None,
                                                   "not-there": None}})
    assert result["changed"] is True
    assert json.loads(path.read_text()) == {"storage-driver": "overlay2", "log-driver": "json-file",
                                            "log-opts": {"max-size": "10m"}}


def test_user_config_json_gets_mode_0600_and_secrets_are_masked(tmp_path, run_module):
    path = tmp_path / ".docker" / "config.json"
    path.parent.mkdir()
    path.write_text('{"auths": {"quay.io": {"auth": "c2VjcmV0OnNlY3JldA=="}}}')
    result = run_module(daemon_config, {"path": str(path), "mode": "0600", "backup": False,
                                        "config": {"credHelpers": {"1234.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"}}},
                        diff=True)
    assert mode_of(path) == 0o600
    assert json.loads(path.read_text())["auths"]["quay.io"]["auth"] == "c2VjcmV0OnNlY3JldA=="
    assert result["config"]["auths"]["quay.io"]["auth"] == "********"
    assert "c2VjcmV0" not in json.dumps(result)


def test_secrets_appear_nowhere_in_the_result_not_even_in_the_invocation(tmp_path, run_module):
    path = tmp_path / "config.json"
    path.write_text('{"auths": {"quay.io": {"identitytoken": "file-token-kept-on-disk"}}}')
    result = run_module(daemon_config, {"path": str(path), "backup": False,
                                        "config": {"auths": {"r.example": {"auth": "dXNlcjpTM0NSRVQ="}}}}, diff=True)
    assert result.rc == 0 and result["changed"] is True
    assert "invocation" in result
    text = json.dumps(result)
    assert "dXNlcjpTM0NSRVQ=" not in text
    assert "file-token-kept-on-disk" not in text
    assert json.loads(path.read_text())["auths"]["r.example"]["auth"] == "dXNlcjpTM0NSRVQ="


def test_secrets_are_kept_out_of_a_failure_result_too(tmp_path, run_module):
    path = tmp_path / "config.json"
    path.write_text('["not an object"]')
    result = run_module(daemon_config, {"path": str(path), "config": {"auths": {"r.example": {"password": "S3CRET-pw"}}}})
    assert result.rc == 1
    assert "S3CRET-pw" not in json.dumps(result)


def test_unreadable_file_fails_clearly(tmp_path, run_module, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_bytes(EXISTING)

    real_open = os.open

    def denied(name, *args, **kwargs):
        if str(name) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(daemon_config.os, "open", denied)
    result = run_module(daemon_config, {"path": str(path), "config": {"debug": True}})
    assert result.rc == 1
    assert result["msg"] == f"Cannot read {path}: [Errno 13] Permission denied: '{path}'; the file was left unchanged"
    assert path.read_bytes() == EXISTING


def test_unwritable_directory_fails_clearly(tmp_path, run_module, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_bytes(EXISTING)

    def denied(**kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(daemon_config.tempfile, "mkstemp", denied)
    result = run_module(daemon_config, {"path": str(path), "backup": False, "config": {"debug": True}})
    assert result.rc == 1
    assert result["msg"] == f"Cannot write {path}: [Errno 13] Permission denied: '{tmp_path}'; the file was left unchanged"
    assert path.read_bytes() == EXISTING

"""X-Registry-Auth from options, config.json auths, and credential helpers (real subprocesses)."""
from __future__ import annotations

import base64
import json
import os
import stat

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _registry_auth as auth_mod,
)
from ansible_collections.fleetops.docker.plugins.module_utils._registry_auth import (
    RegistryAuth,
    RegistryAuthError,
)

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"

# A fake docker-credential-<name>: records its argv and stdin, answers like the real helpers do
# (JSON {"ServerURL", "Username", "Secret"}; "credentials not found in native keychain" + rc 1).
HELPER = """#!/bin/sh
printf '%s\\n' "$*" > "{log}.argv"
cat > "{log}.stdin"
server=$(cat "{log}.stdin")
case "$server" in
  *unknown*) echo "credentials not found in native keychain"; exit 1 ;;
  *broken*) echo "helper exploded" >&2; exit 3 ;;
  *token*) printf '{{"ServerURL":"%s","Username":"<token>","Secret":"refresh-123"}}\\n' "$server" ;;
  *) printf '{{"ServerURL":"%s","Username":"AWS","Secret":"ecr-password"}}\\n' "$server" ;;
esac
"""


@pytest.fixture
def helper(tmp_path, monkeypatch):
    def install(name):
        log = tmp_path / name
        script = tmp_path / ("docker-credential-" + name)
        script.write_text(HELPER.format(log=log))
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return log
    monkeypatch.setenv("PATH", "{}:{}".format(tmp_path, os.environ.get("PATH", "/usr/bin:/bin")))
    return install


def write_config(tmp_path, config):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return str(path)


def header(resolver, domain):
    value = resolver.header_for(domain)
    return None if value is None else auth_mod.decode_header(value)


def test_option_entry_builds_base64url_json(tmp_path):
    resolver = RegistryAuth([{"registry": "quay.io", "username": "robot", "password": "p+/w?"}],
                            config_path=str(tmp_path / "none.json"))

    raw = resolver.header_for("quay.io")

    assert "+" not in raw and "/" not in raw  # base64url
    assert json.loads(base64.urlsafe_b64decode(raw)) == {"username": "robot", "password": "p+/w?", "serveraddress": "quay.io"}


def test_option_identity_token(tmp_path):
    resolver = RegistryAuth([{"registry": "registry.example.com", "identity_token": "tok"}],
                            config_path=str(tmp_path / "none.json"))

    assert header(resolver, "registry.example.com") == {"identitytoken": "tok", "serveraddress": "registry.example.com"}


@pytest.mark.parametrize("registry", ["docker.io", "index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"])
def test_docker_hub_spellings_map_to_the_index_server(tmp_path, registry):
    resolver = RegistryAuth([{"registry": registry, "username": "u", "password": "p"}], config_path=str(tmp_path / "x"))

    assert header(resolver, "docker.io")["serveraddress"] == "https://index.docker.io/v1/"


def test_config_auths_entry(tmp_path):
    config = {"auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"hubuser:hub:pass").decode()},
                        "https://quay.io": {"identitytoken": "quay-token"}}}
    resolver = RegistryAuth(config_path=write_config(tmp_path, config))

    assert header(resolver, "docker.io") == {"username": "hubuser", "password": "hub:pass",
                                             "serveraddress": "https://index.docker.io/v1/"}
    assert header(resolver, "quay.io") == {"identitytoken": "quay-token", "serveraddress": "quay.io"}
    assert resolver.header_for("ghcr.io") is None


def test_options_win_over_config(tmp_path):
    config = {"auths": {"quay.io": {"auth": base64.b64encode(b"old:old").decode()}}}
    resolver = RegistryAuth([{"registry": "quay.io", "username": "new", "password": "new"}],
                            config_path=write_config(tmp_path, config))

    assert header(resolver, "quay.io")["username"] == "new"


def test_cred_helper_ecr_login_runs_with_the_registry_on_stdin(tmp_path, helper):
    log = helper("ecr-login")
    resolver = RegistryAuth(config_path=write_config(tmp_path, {"credHelpers": {ECR: "ecr-login"}}))

    result = header(resolver, ECR)

    assert result == {"username": "AWS", "password": "ecr-password", "serveraddress": ECR}
    assert (log.parent / "ecr-login.argv").read_text().strip() == "get"
    assert (log.parent / "ecr-login.stdin").read_text().strip() == ECR


def test_creds_store_used_for_other_registries_and_token_username(tmp_path, helper):
    helper("desktop")
    resolver = RegistryAuth(config_path=write_config(tmp_path, {"credsStore": "desktop", "auths": {"token.example.com": {}}}))

    assert header(resolver, "token.example.com") == {"identitytoken": "refresh-123", "serveraddress": "token.example.com"}


def test_helper_without_credentials_means_anonymous(tmp_path, helper):
    helper("pass")
    resolver = RegistryAuth(config_path=write_config(tmp_path, {"credHelpers": {"unknown.example.com": "pass"}}))

    assert resolver.header_for("unknown.example.com") is None


def test_helper_failure_is_reported(tmp_path, helper):
    helper("pass")
    resolver = RegistryAuth(config_path=write_config(tmp_path, {"credHelpers": {"broken.example.com": "pass"}}))

    with pytest.raises(RegistryAuthError) as raised:
        resolver.header_for("broken.example.com")

    assert "docker-credential-pass get failed for broken.example.com (rc=3); its output is not shown" in str(raised.value)
    assert "helper exploded" not in str(raised.value)


def test_missing_helper_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    resolver = RegistryAuth(config_path=write_config(tmp_path, {"credHelpers": {ECR: "ecr-login"}}))

    with pytest.raises(RegistryAuthError) as raised:
        resolver.header_for(ECR)

    assert "docker-credential-ecr-login" in str(raised.value)
    assert "amazon-ecr-credential-helper" in str(raised.value)


def test_unreadable_config_is_an_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")

    with pytest.raises(RegistryAuthError):
        RegistryAuth(config_path=str(path)).header_for("quay.io")


@pytest.mark.parametrize("text, kind", [('["auths"]', "list"), ('"auths"', "str"), ("42", "int")])
def test_config_whose_top_level_is_not_an_object_is_a_clear_error(tmp_path, text, kind):
    path = tmp_path / "config.json"
    path.write_text(text)
    resolver = RegistryAuth(config_path=str(path))

    for _attempt in range(2):  # and stays one on the next registry
        with pytest.raises(RegistryAuthError) as raised:
            resolver.header_for("quay.io")
        assert str(raised.value) == f"Docker config {path} holds a JSON {kind}, not an object"


def test_default_config_path_honours_docker_config():
    assert auth_mod.default_config_path({"DOCKER_CONFIG": "/etc/docker-client"}) == "/etc/docker-client/config.json"
    assert auth_mod.default_config_path({}).endswith("/.docker/config.json")


@pytest.mark.parametrize("server, expected", [
    ("https://index.docker.io/v1/", "index.docker.io"),
    ("http://registry.example.com:5000/v2/", "registry.example.com:5000"),
    ("Quay.IO", "quay.io"),
])
def test_hostname_of(server, expected):
    assert auth_mod.hostname_of(server) == expected

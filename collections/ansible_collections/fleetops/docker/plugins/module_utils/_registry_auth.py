# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X-Registry-Auth headers from module options or the remote user's ~/.docker/config.json.

Lookup order for a registry (the docker CLI's order):
1. the module's registry_auth entry for that registry;
2. config.json `credHelpers[<registry>]`  -> `docker-credential-<helper> get` (e.g. ecr-login);
3. config.json `credsStore`               -> `docker-credential-<store> get`;
4. config.json `auths[<registry>]`        -> base64 "user:password" in `auth`, or `identitytoken`;
5. nothing: anonymous pull (no header).
Docker Hub is keyed "https://index.docker.io/v1/" in config.json, like the docker CLI does.
"""


import base64
import json
import os
import re
import shutil
import subprocess

INDEX_SERVER = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
HELPER_PREFIX = "docker-credential-"
HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a program name, never a path
HELPER_GET = ("get",)  # docker-credential-<name> get   (server URL on stdin, JSON on stdout)
HELPER_NOT_FOUND_MARKERS = ("credentials not found", "no credentials")
TOKEN_USERNAME = "<token>"

# Options shared by the modules that talk to registries (image_pull, image_facts).
REGISTRY_ARGUMENT_SPEC = {
    "registry_mirrors": {"type": "dict", "default": {}},
    "registry_auth": {"type": "list", "elements": "dict", "default": [], "options": {
        "registry": {"type": "str", "required": True},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "identity_token": {"type": "str", "no_log": True},
    }},
    "docker_config": {"type": "path"},
}


def timed_runner(timeout):
    """A runner (args, stdin) -> (rc, out, err) that kills the helper after `timeout` seconds
    (subprocess.TimeoutExpired is raised then)."""
    def run(args, data):
        return subprocess_runner(args, data, timeout)
    return run


def which_on_path(program, environ=None):
    """shutil.which over the absolute PATH entries only: '' or '.' would find a program in the working directory."""
    environ = os.environ if environ is None else environ
    dirs = [entry for entry in environ.get("PATH", os.defpath).split(os.pathsep) if os.path.isabs(entry)]
    return shutil.which(program, path=os.pathsep.join(dirs)) if dirs else None


class RegistryAuthError(Exception):
    pass


def hostname_of(server):
    """docker's ConvertToHostname: strip scheme and path ('https://quay.io/v1/' -> 'quay.io')."""
    server = (server or "").strip().split("://", 1)[-1]
    return server.split("/", 1)[0].lower()


def registry_key(domain):
    """The config.json key docker uses for a registry domain."""
    return INDEX_SERVER if hostname_of(domain) in DOCKER_HUB_HOSTS else hostname_of(domain)


def same_registry(left, right):
    return registry_key(left) == registry_key(right)


def encode_header(auth):
    """base64url(JSON) as the Engine API expects in X-Registry-Auth."""
    payload = {k: v for k, v in auth.items() if v}
    return base64.urlsafe_b64encode(json.dumps(payload, sort_keys=True).encode("utf-8")).decode("ascii")


def decode_header(header):
    padded = header + "=" * (-len(header) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))


def default_config_path(environ=None):
    environ = os.environ if environ is None else environ
    base = environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def subprocess_runner(args, data, timeout=None):
    """Default command runner: (args, stdin text) -> (rc, stdout, stderr); the program is killed after timeout."""
    proc = subprocess.run(args, input=data.encode("utf-8"), capture_output=True, timeout=timeout, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", errors="replace"), proc.stderr.decode("utf-8", errors="replace")


class RegistryAuth:
    """Resolve credentials per registry domain and build X-Registry-Auth headers."""

    def __init__(self, entries=None, config_path=None, runner=None, which=None):
        self.entries = list(entries or [])
        self.config_path = config_path or default_config_path()
        self.runner = runner or subprocess_runner
        self.which = which or which_on_path
        self._config = None

    def config(self):
        if self._config is None:
            self._config = {}
            if os.path.exists(self.config_path):
                try:
                    with open(self.config_path) as handle:
                        self._config = json.load(handle) or {}
                except (OSError, ValueError) as exc:
                    raise RegistryAuthError(f"Cannot read docker config {self.config_path}: {exc}") from exc
                if not isinstance(self._config, dict):
                    kind = type(self._config).__name__
                    self._config = None
                    raise RegistryAuthError(f"Docker config {self.config_path} holds a JSON {kind}, not an object")
        return self._config

    def header_for(self, domain):
        """The X-Registry-Auth value for a registry domain, or None for anonymous access."""
        auth = self.credentials_for(domain)
        return encode_header(auth) if auth else None

    def credentials_for(self, domain):
        for entry in self.entries:
            if same_registry(entry.get("registry"), domain):
                return self._from_entry(entry, domain)
        config = self.config()
        helper = self._lookup(config.get("credHelpers") or {}, domain) or config.get("credsStore")
        if helper:
            return self._from_helper(helper, domain)
        found = self._lookup(config.get("auths") or {}, domain)
        return self._from_config_auth(found, domain) if found else None

    @staticmethod
    def _lookup(mapping, domain):
        for key, value in mapping.items():
            if same_registry(key, domain):
                return value
        return None

    @staticmethod
    def _from_entry(entry, domain):
        if entry.get("identity_token"):
            return {"identitytoken": entry["identity_token"], "serveraddress": registry_key(domain)}
        if entry.get("username"):
            return {"username": entry["username"], "password": entry.get("password") or "",
                    "serveraddress": registry_key(domain)}
        return None

    def _from_config_auth(self, found, domain):
        if found.get("identitytoken"):
            return {"identitytoken": found["identitytoken"], "serveraddress": registry_key(domain)}
        encoded = found.get("auth")
        if not encoded:
            return None
        try:
            username, password = base64.b64decode(encoded).decode("utf-8").split(":", 1)
        except (ValueError, TypeError):
            raise RegistryAuthError(
                f"The 'auth' value for {registry_key(domain)} in {self.config_path} is not base64 'user:password'") from None
        return {"username": username, "password": password, "serveraddress": registry_key(domain)}

    def _from_helper(self, helper, domain):
        if not isinstance(helper, str) or not HELPER_NAME.match(helper):
            raise RegistryAuthError(f"The credential helper name {helper!r} in {self.config_path} (credHelpers or "
                                    "credsStore) is not a plain program name (letters, digits, '.', '_', '-'); "
                                    "it was not run")
        program = HELPER_PREFIX + helper
        path = self.which(program)
        if not path:
            package = " (install amazon-ecr-credential-helper)" if helper == "ecr-login" else ""
            raise RegistryAuthError(f"Credential helper {program} (configured in {self.config_path} for "
                                    f"{registry_key(domain)}) is not installed or not on PATH{package}")
        server = registry_key(domain)
        try:
            rc, out, err = self.runner([path] + list(HELPER_GET), server)
        except subprocess.TimeoutExpired as exc:
            raise RegistryAuthError(f"{program} get did not answer for {server} within {exc.timeout}s (the "
                                    "module's timeout) and was stopped") from None
        except OSError as exc:
            raise RegistryAuthError(f"{program} could not be run for {server}: {exc.strerror}") from None
        if rc != 0:
            text = (out + err).strip()
            if any(marker in text.lower() for marker in HELPER_NOT_FOUND_MARKERS):
                return None
            raise RegistryAuthError(f"{program} get failed for {server} (rc={rc}); its output is not shown, "
                                    f"as it may hold credentials: run '{program} get' by hand to see it")
        try:
            answer = json.loads(out)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise RegistryAuthError(f"{program} get did not return a JSON object for {server}")
        username, secret = answer.get("Username") or "", answer.get("Secret") or ""
        if username == TOKEN_USERNAME:
            return {"identitytoken": secret, "serveraddress": server}
        return {"username": username, "password": secret, "serveraddress": server}

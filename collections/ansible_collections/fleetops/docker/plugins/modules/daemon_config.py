#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: daemon_config
short_description: Merge settings into Docker's daemon.json (or another Docker JSON config file)
description:
  - Merges O(config) into a JSON object file, by default C(/etc/docker/daemon.json), keeping every key it is not
    given. A missing file counts as V({}) and is only created when the result is not empty; an empty file also counts as V({}).
  - "Merge rule for O(state=present): for each key of O(config), when both the given value and the value in the
    file are objects (such as C(log-opts)) they are merged by the same rule, recursively; any other value (string,
    number, boolean, list, null) replaces the file's value. Lists are replaced, never appended."
  - "Removal rule for O(state=absent): for each key of O(config), a non-empty object value removes only the keys it
    names inside the file's object, recursively; any other value removes the key itself."
  - Refuses to touch a file that is not valid JSON or whose top level is not an object; the file is left
    byte-for-byte as it was.
  - Compares semantically, so a file that only differs in formatting or key order is not rewritten. Writes
    atomically next to the file, keeps an existing file's mode and owner (unless O(mode)/O(owner)/O(group) say
    otherwise). A missing parent directory is created with mode 0755 and a new file with mode 0644, unless O(mode)
    is given; a file that holds credentials (a C(config.json), or any secret value) gets 0600 and its new parent
    directory 0700. The new content is written to a 0600 temporary file whose final mode is set before it is
    renamed into place, so a credential file is never readable by others, not even briefly.
  - Never follows a symbolic link. The file itself being a symlink is refused, and so is a symlinked directory in
    its path that a user other than root (or the user running the module) could have made, such as a user's
    C(~/.docker) pointing at C(/root/.docker). Nothing is read or written then.
  - The same module manages a user's C(~/.docker/config.json), for example C(credHelpers) for the ECR credential
    helper. Values under the keys C(auth), C(identitytoken), C(password) and C(registrytoken) at any depth, every
    value under C(HttpHeaders), and the password of any C(scheme://user:password@host) URL (C(proxies),
    C(registry-mirrors)) are masked in the returned O(config), in the diff, in error messages and in the module
    arguments, both those returned and those logged to syslog or the journal on the target.
author:
  - fleetops engineering (@fleetops)
attributes:
  check_mode:
    support: full
    description: Reports the change and the resulting config without writing.
  diff_mode:
    support: full
    description: Shows the JSON text before and after.
  platform:
    platforms: posix
    support: full
    description: Any POSIX host.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
options:
  path:
    description: JSON file to manage.
    type: path
    default: /etc/docker/daemon.json
  config:
    description: Keys to merge (O(state=present)) or to remove (O(state=absent)).
    type: dict
    default: {}
  state:
    description: V(present) merges O(config) into the file; V(absent) removes the keys O(config) names.
    type: str
    choices: [present, absent]
    default: present
  backup:
    description:
      - Keep a timestamped copy of an existing file before changing it, with mode 0600 (it may hold credentials).
      - When the copy cannot be written completely (for example the disk is full), the module fails and the file
        is left unchanged.
    type: bool
    default: true
  backup_keep:
    description: How many backups of the file to keep; older ones are deleted after a new backup is made.
    type: int
    default: 5
seealso:
  - module: fleetops.docker.engine
"""

EXAMPLES = r"""
- name: A registry mirror, log rotation and live restore
  fleetops.docker.daemon_config:
    config:
      registry-mirrors: [https://mirror.example.com]
      log-driver: json-file
      log-opts:
        max-size: 10m
        max-file: "3"
      live-restore: true
  register: daemon
  notify: Restart docker

- name: Drop one log option, keep the others
  fleetops.docker.daemon_config:
    state: absent
    config:
      log-opts:
        max-file:

- name: ECR credential helper for one user
  fleetops.docker.daemon_config:
    path: /home/ec2-user/.docker/config.json
    owner: ec2-user
    mode: "0600"
    backup: false
    config:
      credHelpers:
        123456789012.dkr.ecr.us-east-1.amazonaws.com: ecr-login
"""

RETURN = r"""
config:
  description: The complete resulting configuration (what the file holds, or would hold in check mode).
  returned: success
  type: dict
  sample: {"log-driver": "json-file", "log-opts": {"max-size": "10m"}, "live-restore": true}
restart_required:
  description: True when the effective configuration changed, so dockerd needs a restart to apply it.
  returned: success
  type: bool
  sample: true
backup_file:
  description: Backup of the previous file.
  returned: when a backup was made
  type: str
  sample: /etc/docker/daemon.json.12345.2025-01-31@10:00:00~
path:
  description: The managed file.
  returned: always
  type: str
  sample: /etc/docker/daemon.json
"""

import copy
import errno
import json
import os
import re
import stat
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

SECRET_KEYS = ("auth", "identitytoken", "password", "registrytoken")
SECRET_CONTAINERS = ("httpheaders",)  # every value below these keys (compared lower-case) is secret
URL_PASSWORD = re.compile(r"(?P<prefix>[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:)(?P<password>[^/@\s]+)(?=@)")
MASK = "********"
NEW_FILE_MODE = "0644"
NEW_DIR_MODE = 0o755
CREDENTIAL_FILE_MODE = "0600"
CREDENTIAL_DIR_MODE = 0o700
BACKUP_MODE = 0o600
BACKUP_STAMP = "%Y-%m-%d@%H:%M:%S"


class RefusedError(Exception):
    """The module must not touch the file; the message says why."""


def merge(current, updates):
    result = dict(current)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def remove(current, keys):
    result = dict(current)
    for key, value in keys.items():
        if key not in result:
            continue
        if isinstance(value, dict) and value and isinstance(result[key], dict):
            result[key] = remove(result[key], value)
        else:
            del result[key]
    return result


def _secret_key(key):
    return key in SECRET_KEYS or str(key).lower() in SECRET_CONTAINERS


def masked(value, secret=False):
    if isinstance(value, dict):
        return {k: masked(v, secret or _secret_key(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(item, secret) for item in value]
    if secret and value not in (None, "") and not isinstance(value, bool):
        return MASK
    if isinstance(value, str):
        return URL_PASSWORD.sub(lambda m: m.group("prefix") + MASK, value)
    return value


def secret_values(value, secret=False):
    """Every non-empty scalar under a secret key, at any depth, and every URL password, as text."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from secret_values(item, secret or _secret_key(key))
    elif isinstance(value, list):
        for item in value:
            yield from secret_values(item, secret)
    elif secret and value not in (None, "") and not isinstance(value, bool):
        yield to_native(value)
    elif isinstance(value, str):
        for match in URL_PASSWORD.finditer(value):
            yield match.group("password")


def symlink_problem(path, trusted_uids):
    """Why `path` must not be opened: it is a symlink, or a directory above it is a symlink that an
    untrusted user owns or could replace (its directory is not owned by a trusted uid). None when safe."""
    if os.path.islink(path):
        return f"{path} is a symbolic link (to {os.readlink(path)}); refusing to follow it"
    current = os.path.dirname(os.path.abspath(path))
    while current != os.path.dirname(current):
        if os.path.islink(current):
            link_owner = os.lstat(current).st_uid
            dir_owner = os.stat(os.path.dirname(current)).st_uid
            if link_owner not in trusted_uids or dir_owner not in trusted_uids:
                return (f"{current} is a symbolic link (to {os.readlink(current)}) that uid "
                        f"{link_owner if link_owner not in trusted_uids else dir_owner} controls; refusing to follow it")
        current = os.path.dirname(current)
    return None


def octal_mode(mode):
    """An octal mode given as a string or an int, else None (symbolic modes are applied after the write)."""
    if isinstance(mode, int):
        return mode
    if isinstance(mode, str) and re.match(r"^0?[0-7]{3,4}$", mode):
        return int(mode, 8)
    return None


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def canonical(value):
    return json.dumps(value, sort_keys=True)


def render(value):
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


class DaemonConfig:
    """Reads, merges and atomically rewrites one JSON object file."""

    def __init__(self, module):
        self.module = module
        self.path = module.params["path"]
        self.raw = None
        self.result = {"changed": False, "path": self.path, "restart_required": False}

    def load(self):
        """The file's object, or {} when it is missing or empty. Fails (touching nothing) on anything else."""
        problem = symlink_problem(self.path, {0, os.geteuid()})
        if problem:
            self.module.fail_json(msg=f"{problem}; the file was left unchanged. Point path at a regular file.", **self.result)
        if not os.path.lexists(self.path):
            return {}
        if not os.path.isfile(self.path):
            self.module.fail_json(msg=f"{self.path} is not a regular file; left unchanged", **self.result)
        try:
            handle = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(handle, "rb") as stream:
                raw = self.raw = stream.read()
        except OSError as exc:
            self.module.fail_json(msg=f"Cannot read {self.path}: {to_native(exc)}; the file was left unchanged", **self.result)
        try:
            text = raw.decode("utf-8")
            data = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            self.module.fail_json(msg=f"Cannot parse {self.path} as JSON ({to_native(exc)}); the file was left unchanged", **self.result)
        if not isinstance(data, dict):
            self.module.fail_json(msg=f"{self.path} holds a JSON {type(data).__name__}, not an object; the file was left unchanged", **self.result)
        return data

    def hide_secrets(self, config):
        """Keep secret values out of everything the module returns, module_args included."""
        self.module.no_log_values.update(secret_values(config))

    def backup(self):
        """Copy the bytes read to a new 0600 file next to the original; a partial copy is removed."""
        stamp = time.strftime(BACKUP_STAMP)
        for attempt in range(100):
            name = f"{self.path}.{os.getpid()}.{stamp}{'.' + str(attempt) if attempt else ''}~"
            try:
                handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), BACKUP_MODE)
                break
            except FileExistsError:
                continue
        else:
            raise OSError(errno.EEXIST, "no free backup name", self.path)
        try:
            os.fchmod(handle, BACKUP_MODE)  # the umask may have removed bits only; never add any
            write_all(handle, self.raw)
        except OSError as exc:
            os.close(handle)
            os.unlink(name)
            raise OSError(exc.errno, f"Cannot back up {self.path} to {name}: {exc.strerror}") from None
        os.close(handle)
        self.result["backup_file"] = name
        self.prune_backups()

    def prune_backups(self):
        keep = self.module.params["backup_keep"]
        directory, base = os.path.split(self.path)
        pattern = re.compile(r"^" + re.escape(base) + r"\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d(\.\d+)?~$")
        found = []
        for entry in os.scandir(directory or "."):
            if pattern.match(entry.name) and entry.is_file(follow_symlinks=False):
                found.append((entry.stat(follow_symlinks=False).st_mtime, entry.name, entry.path))
        for _mtime, _name, old in sorted(found)[:-keep]:
            os.unlink(old)

    def write(self, text, credentials):
        parent = os.path.dirname(self.path) or "."
        if not os.path.isdir(parent):
            os.makedirs(parent)
            os.chmod(parent, CREDENTIAL_DIR_MODE if credentials else NEW_DIR_MODE)
        existing = os.lstat(self.path) if os.path.lexists(self.path) else None
        if existing and self.module.params["backup"]:
            self.backup()
        mode = octal_mode(self.module.params["mode"])
        if mode is None:
            mode = stat.S_IMODE(existing.st_mode) if existing else int(CREDENTIAL_FILE_MODE if credentials else NEW_FILE_MODE, 8)
        handle, temp = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(self.path)}.", suffix=".tmp")
        try:
            write_all(handle, text.encode("utf-8"))
            os.fchmod(handle, mode)
            if existing:
                try:
                    os.fchown(handle, existing.st_uid, existing.st_gid)
                except PermissionError:
                    pass  # not root: the file keeps the running user's ownership
            os.close(handle)
            handle = None
            os.rename(temp, self.path)
        except BaseException:
            if handle is not None:
                os.close(handle)
            os.unlink(temp)
            raise

    def run(self):
        params = self.module.params
        existed = os.path.exists(self.path)
        if params["backup_keep"] < 1:
            self.module.fail_json(msg=f"backup_keep must be 1 or more, got {params['backup_keep']}", **self.result)
        before = self.load()
        self.hide_secrets(before)
        after = merge(before, params["config"]) if params["state"] == "present" else remove(before, params["config"])
        credentials = os.path.basename(self.path) == "config.json" or any(True for _value in secret_values(after))
        content_changed = canonical(before) != canonical(after)
        if content_changed and not self.module.check_mode:
            try:
                self.write(render(after), credentials)
            except OSError as exc:
                self.module.fail_json(msg=f"Cannot write {self.path}: {to_native(exc)}; the file was left unchanged",
                                      **self.result)
        self.result.update(changed=content_changed, restart_required=content_changed, config=masked(after))
        if os.path.exists(self.path):
            file_args = self.module.load_file_common_arguments(params, path=self.path)
            if not existed and file_args["mode"] is None:
                file_args["mode"] = CREDENTIAL_FILE_MODE if credentials else NEW_FILE_MODE
            self.result["changed"] = self.module.set_fs_attributes_if_different(file_args, self.result["changed"])
        if self.module._diff:
            self.result["diff"] = {
                "before_header": self.path, "after_header": self.path,
                "before": render(masked(before)) if existed else "",
                "after": render(masked(after)) if existed or content_changed else "",
            }
        self.module.exit_json(**self.result)


class SecretAwareModule(AnsibleModule):
    """AnsibleModule whose 'Invoked with ...' syslog/journal line waits until the secret values inside the
    free-form `config` are known: the constructor would otherwise log them before anything can mask them."""

    _log_ready = False

    def _log_invocation(self):
        if self._log_ready:
            super()._log_invocation()

    def log_invocation_masked(self, secrets):
        self.no_log_values.update(secrets)
        self._log_ready = True
        if not self.no_log:
            self._log_invocation()


def main():
    module = SecretAwareModule(
        argument_spec={
            "path": {"type": "path", "default": "/etc/docker/daemon.json"},
            "config": {"type": "dict", "default": {}},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "backup": {"type": "bool", "default": True},
            "backup_keep": {"type": "int", "default": 5},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    module.log_invocation_masked(secret_values(module.params["config"]))
    DaemonConfig(module).run()


if __name__ == "__main__":
    main()

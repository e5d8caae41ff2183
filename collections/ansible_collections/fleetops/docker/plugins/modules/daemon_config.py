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
    otherwise), creates a missing parent directory with mode 0755 and a new file with mode 0644 unless O(mode) is
    given.
  - The same module manages a user's C(~/.docker/config.json), for example C(credHelpers) for the ECR credential
    helper. Values under the keys C(auth), C(identitytoken), C(password) and C(registrytoken), at any depth, are
    masked in the returned O(config), in the diff and in the logged module arguments.
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
    description: Keep a timestamped copy of an existing file before changing it.
    type: bool
    default: true
seealso:
  - module: fleetops.docker.engine
"""

EXAMPLES = r"""
- name: Mirrors, insecure registries, log rotation and live restore
  fleetops.docker.daemon_config:
    config:
      registry-mirrors: [http://registry.fleet.test]
      insecure-registries: [quay.io]
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
import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

SECRET_KEYS = ("auth", "identitytoken", "password", "registrytoken")
MASK = "********"
NEW_FILE_MODE = "0644"
NEW_DIR_MODE = 0o755


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


def masked(value):
    if isinstance(value, dict):
        return {k: MASK if k in SECRET_KEYS and v else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def secret_values(value, secret=False):
    """Every non-empty scalar under a SECRET_KEYS key, at any depth, as text."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from secret_values(item, secret or key in SECRET_KEYS)
    elif isinstance(value, list):
        for item in value:
            yield from secret_values(item, secret)
    elif secret and value not in (None, "") and not isinstance(value, bool):
        yield to_native(value)


def canonical(value):
    return json.dumps(value, sort_keys=True)


def render(value):
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


class DaemonConfig:
    """Reads, merges and atomically rewrites one JSON object file."""

    def __init__(self, module):
        self.module = module
        self.path = module.params["path"]
        self.result = {"changed": False, "path": self.path, "restart_required": False}

    def load(self):
        """The file's object, or {} when it is missing or empty. Fails (touching nothing) on anything else."""
        if not os.path.lexists(self.path):
            return {}
        if not os.path.isfile(self.path):
            self.module.fail_json(msg=f"{self.path} is not a regular file; left unchanged", **self.result)
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
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

    def write(self, text):
        parent = os.path.dirname(self.path) or "."
        if not os.path.isdir(parent):
            os.makedirs(parent)
            os.chmod(parent, NEW_DIR_MODE)
        if os.path.exists(self.path) and self.module.params["backup"]:
            self.result["backup_file"] = self.module.backup_local(self.path)
        handle, temp = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(self.path)}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
        self.module.atomic_move(temp, self.path, unsafe_writes=self.module.params["unsafe_writes"])

    def run(self):
        params = self.module.params
        existed = os.path.exists(self.path)
        self.hide_secrets(params["config"])
        before = self.load()
        self.hide_secrets(before)
        after = merge(before, params["config"]) if params["state"] == "present" else remove(before, params["config"])
        content_changed = canonical(before) != canonical(after)
        if content_changed and not self.module.check_mode:
            try:
                self.write(render(after))
            except OSError as exc:
                self.module.fail_json(msg=f"Cannot write {self.path}: {to_native(exc)}", **self.result)
        self.result.update(changed=content_changed, restart_required=content_changed, config=masked(after))
        if os.path.exists(self.path):
            file_args = self.module.load_file_common_arguments(params, path=self.path)
            if not existed and file_args["mode"] is None:
                file_args["mode"] = NEW_FILE_MODE
            self.result["changed"] = self.module.set_fs_attributes_if_different(file_args, self.result["changed"])
        if self.module._diff:
            self.result["diff"] = {
                "before_header": self.path, "after_header": self.path,
                "before": render(masked(before)) if existed else "",
                "after": render(masked(after)) if existed or content_changed else "",
            }
        self.module.exit_json(**self.result)


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "default": "/etc/docker/daemon.json"},
            "config": {"type": "dict", "default": {}},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "backup": {"type": "bool", "default": True},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    DaemonConfig(module).run()


if __name__ == "__main__":
    main()

#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: engine
short_description: Install, pin or remove the Docker engine package stack
description:
  - Installs, pins, upgrades or removes the Docker stack (the engine and the packages it runs on, see O(packages))
    with the host's own package manager - C(yum) plus C(amazon-linux-extras) on Amazon Linux 2, C(dnf) on Amazon Linux 2023
    and the RHEL family, C(apt-get) on Debian and Ubuntu.
  - Installed state is read with C(rpm -q --queryformat) or C(dpkg-query -W -f); available versions with
    C(yum --showduplicates list available), C(dnf repoquery --qf) or C(apt-cache madison).
  - Every check (unknown package, pinned version not available, unsupported OS, unreachable repository, package
    manager lock) happens before anything is installed or removed. The only step that may precede them is enabling
    the O(extras_topic) on Amazon Linux 2, which the package listing needs.
  - Reports changed only when a package is installed, upgraded, downgraded or removed, when the extras topic is
    enabled, or when O(purge_data) deletes data directories.
author:
  - fleetops engineering (@fleetops)
attributes:
  check_mode:
    support: full
    description: Reports exactly which packages and versions would be installed, upgraded, downgraded or removed.
  diff_mode:
    support: full
    description: Shows the package versions before and after.
  platform:
    platforms: posix
    support: full
    description: Amazon Linux 2 and 2023, RHEL family 8+, Fedora, Debian and Ubuntu.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  state:
    description:
      - V(present) installs missing packages (at the pinned version when O(versions) names one) and leaves installed
        ones alone unless they differ from their pin.
      - V(latest) also upgrades unpinned packages to the newest available version.
      - V(absent) removes the packages and reports what was removed.
    type: str
    choices: [present, absent, latest]
    default: present
  packages:
    description:
      - Packages to manage. Omitted, the whole Docker stack this module knows; RV(packages) reports each package
        under its name on the host.
      - The stack's logical names are translated to the OS's package names (for example V(docker) is V(docker.io)
        on Debian/Ubuntu and V(docker-ce) from the Docker CE repository on the RHEL family, where runc and
        libcgroup are not separate packages). Other names pass through unchanged.
    type: list
    elements: str
  extra_packages:
    description:
      - Packages installed, pinned, locked and removed together with O(packages), in the same transaction (for
        example V(amazon-ecr-credential-helper)).
    type: list
    elements: str
    default: []
  versions:
    description:
      - Version pins, package name (logical or real) to version. A pin is either the full
        C([epoch:]version-release) (V(20.10.25-1.amzn2.0.4), V(20.10.24+dfsg1-1+deb12u1+b6)) or the bare version
        (V(20.10.25)), which selects the newest release of that version.
      - Versions must be strings; quote them in YAML (an unquoted V(1.10) would arrive as the number 1.1).
      - Installed packages that differ from their pin are upgraded or downgraded to it.
      - Ignored when O(state=absent).
    type: dict
    default: {}
  extras_topic:
    description:
      - Amazon Linux 2 only. C(amazon-linux-extras) topic enabled before installing (its yum repository is
        C(amzn2extra-<topic>)). Already enabled is no change. Set to an empty string to skip.
    type: str
    default: docker
  lock_timeout:
    description:
      - Seconds to wait for another package manager run (cloud-init, yum-cron, unattended-upgrades) to release its
        lock before failing; each command gets the full time. The module polls the yum/dnf pid files, runs yum and
        dnf with C(--setopt=exit_on_lock=True) so they never hang, retries a command that failed on a lock, and sets
        apt-get's C(DPkg::Lock::Timeout) option to this value.
    type: int
    default: 300
  update_cache:
    description:
      - Refresh package metadata (C(yum makecache fast), C(dnf makecache), C(apt-get update)) before installing,
        upgrading or downgrading. Not counted as a change; skipped in check mode.
      - Only when something is to change, or with O(state=latest). When every package is installed (at its pin, if it
        has one), no metadata is read, so a converged fleet makes no round trip to its mirrors.
    type: bool
    default: false
  purge_data:
    description:
      - With O(state=absent), also delete C(/var/lib/docker) and C(/var/lib/containerd) (images, containers,
        volumes). The default keeps them. Only valid with O(state=absent).
      - A directory that is a mount point (a separate volume) is emptied and kept.
      - Refused before any package change while anything is mounted below those directories (a volume on NFS or
        EBS under C(volumes/.../_data), a running container's filesystem) or while container shims run (with
        C(live-restore) containers outlive the service); the message lists them. The deletion never crosses
        into another filesystem.
    type: bool
    default: false
  versionlock:
    description:
      - Lock the managed packages at the versions this run leaves installed, so that a plain C(yum update),
        C(dnf upgrade) or C(apt-get upgrade) does not move them - C(yum versionlock) on Amazon Linux 2 (installs
        C(yum-plugin-versionlock) when missing), C(dnf versionlock) on Amazon Linux 2023 and the RHEL family
        (C(python3-dnf-plugin-versionlock)), C(apt-mark hold) on Debian and Ubuntu.
      - Pins resolve past existing locks (listing and installing run with the versionlock plugin disabled, or
        C(--allow-change-held-packages)), and a lock at another version than the one installed is replaced.
      - With O(state=absent) the locks on the managed packages are released.
      - With the default V(false) existing locks are left alone; a pin that a lock hides fails, naming the lock.
    type: bool
    default: false
  backend:
    description:
      - Package manager to use. V(auto) picks it from C(/etc/os-release) (C(ID)/C(VERSION_ID)) - amzn 2 yum,
        amzn 2023 / rhel / centos / rocky / almalinux / fedora dnf, debian / ubuntu apt.
    type: str
    choices: [auto, yum, dnf, apt]
    default: auto
notes:
  - Package names, commands and error messages per backend are data in
    C(plugins/module_utils/_package_backends.py).
  - Sizes are installed sizes from the package database (rpm C(SIZE), dpkg C(Installed-Size)), formatted like yum's
    tables; in check mode they are known for dnf (repoquery C(installsize)) and unknown (null) for yum and apt.
seealso:
  - module: fleetops.docker.daemon_config
"""

EXAMPLES = r"""
- name: Install the Docker stack (AL2 enables the docker extras topic first)
  fleetops.docker.engine:

- name: Pin the versions from the fleet baseline
  fleetops.docker.engine:
    versions:
      docker: 20.10.25-1.amzn2.0.4
      containerd: 1.7.11-1.amzn2.0.1
      runc: 1.1.11-1.amzn2
    lock_timeout: 600

- name: Debian host, refresh apt lists first
  fleetops.docker.engine:
    update_cache: true

- name: Pin and lock the stack, so that a plain "yum update" leaves it alone
  fleetops.docker.engine:
    versions:
      docker: 25.0.8-1.amzn2023.0.1
      containerd: 1.7.25-1.amzn2023.0.1
    versionlock: true

- name: Remove the stack but keep images and volumes
  fleetops.docker.engine:
    state: absent
  register: removed

- name: Remove the stack and its data
  fleetops.docker.engine:
    state: absent
    purge_data: true
"""

RETURN = r"""
packages:
  description: One entry per managed package, with what was (or in check mode would be) done to it.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Package name on this OS.
      type: str
      sample: containerd
    epoch:
      description: Package epoch; V(0) when it has none.
      type: str
      sample: "0"
    version:
      description: Upstream version.
      type: str
      sample: 1.7.11
    release:
      description: Package release (the Debian revision on apt).
      type: str
      sample: 1.amzn2.0.1
    arch:
      description: Architecture.
      type: str
      sample: x86_64
    repo:
      description: Repository. Installed and removed packages carry the V(@) prefix yum uses for "installed from".
      type: str
      sample: "@amzn2extra-docker"
    size:
      description: Installed size as yum prints it.
      type: str
      sample: 107 M
    size_bytes:
      description: Installed size in bytes.
      type: int
      sample: 112197632
    action:
      description: What happened.
      type: str
      choices: [install, upgrade, downgrade, remove, none]
      sample: remove
  sample:
    - {name: containerd, epoch: "0", version: 1.7.11, release: 1.amzn2.0.1, arch: x86_64,
       repo: "@amzn2extra-docker", size: 107 M, size_bytes: 112197632, action: remove}
repos_enabled:
  description: Repositories this run enabled (or would enable in check mode), such as V(amzn2extra-docker).
  returned: always
  type: list
  elements: str
  sample: [amzn2extra-docker]
backend:
  description: Package manager used.
  returned: always
  type: str
  sample: yum
distro:
  description: The distribution key, from C(/etc/os-release), that chose the backend and the package names.
  returned: always
  type: str
  sample: amzn2
  version_added: 1.1.0
platform:
  description:
    - Deprecated alias of RV(distro), kept for one release; it will be removed in 2.0.0. In this collection
      "platform" means C(os/arch[/variant]), as in Docker.
  returned: always
  type: str
  sample: amzn2
versionlock:
  description: Version lock entries this run added and removed (or would in check mode), as the lock list shows them.
  returned: always
  type: dict
  contains:
    added:
      description: Entries added.
      type: list
      elements: str
      sample: ["0:containerd-1.7.11-1.amzn2.0.1.*"]
    removed:
      description: Entries removed.
      type: list
      elements: str
      sample: ["0:containerd-1.4.1-2.amzn2.*"]
    plugin:
      description: The versionlock plugin package installed because it was missing, or null.
      type: str
      sample: yum-plugin-versionlock
purged_paths:
  description: Data directories deleted (or that would be) because of O(purge_data).
  returned: always
  type: list
  elements: str
  sample: [/var/lib/docker, /var/lib/containerd]
"""

import os
import re
import time
from collections import namedtuple

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.docker.plugins.module_utils._data_purge import (
    PurgeError,
    delete_data,
    purge_blockers,
)
from ansible_collections.fleetops.docker.plugins.module_utils._package_backends import (
    BACKEND_DEFAULT_DISTRO,
    DISTROS,
    EXTRAS,
    OS_RELEASE,
    STACK,
    Backend,
    PackageManagerError,
    detect_distro,
    package_names,
)
from ansible_collections.fleetops.docker.plugins.module_utils._package_versions import (
    compare,
    evr,
    human_size,
    matches_pin,
    pick,
)

ENVIRONMENT = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C", "DEBIAN_FRONTEND": "noninteractive"}

# What the module reads, deletes and waits on besides the package manager (lock_files: {backend: [pid files]},
# None for the backends' own; proc_root: where purge_data reads mounts and processes). main() takes another System
# in tests.
System = namedtuple("System", "os_release data_dirs lock_files clock sleep proc_root", defaults=("/proc",))
SYSTEM = System(os_release=OS_RELEASE, data_dirs=("/var/lib/docker", "/var/lib/containerd"), lock_files=None,
                clock=time.monotonic, sleep=time.sleep)
CHANGE_ORDER = ("remove", "downgrade", "install")


# Names as rpm and dpkg allow them (dpkg's may carry :arch); never starting with '-', which a tool reads as an option.
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+:-]*$")
VERSION_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~:^-]*$")
TOPIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def report(record, action):
    entry = {key: record.get(key) for key in ("name", "epoch", "version", "release", "arch", "repo", "size_bytes")}
    entry.update(size=human_size(record.get("size_bytes")), action=action)
    return entry


class EngineManager:
    """Plans package actions from installed/available state, then applies them through the backend."""

    def __init__(self, module, backend, distro, data_dirs=SYSTEM.data_dirs, proc_root=SYSTEM.proc_root):
        self.module = module
        self.data_dirs = list(data_dirs)
        self.proc_root = proc_root
        self.params = module.params
        self.backend = backend
        self.distro = distro
        self.extras_repo_pending = None
        self.result = {"changed": False, "packages": [], "repos_enabled": [], "backend": backend.name,
                       "distro": distro, "platform": distro,  # platform: deprecated alias of distro (RETURN)
                       "purged_paths": [],
                       "versionlock": {"added": [], "removed": [], "plugin": None}}
        self.diff = {"before": {}, "after": {}}

    def fail(self, msg, **details):
        self.module.fail_json(msg=msg, **dict(self.result, **details))

    def pins(self, pairs):
        versions = {key: str(value) for key, value in self.params["versions"].items()}
        known = {name for pair in pairs for name in pair}
        unknown = sorted(set(versions) - known)
        if unknown and self.params["state"] != "absent":
            self.fail("versions names packages that are not managed: {} (packages: {})".format(", ".join(unknown), ", ".join(self.params["packages"])))
        return {real: versions.get(real, versions.get(requested)) for requested, real in pairs}

    def ensure_extras(self):
        topic = self.params["extras_topic"]
        if not (DISTROS[self.distro]["extras"] and topic):
            return
        topics = self.backend.extras_topics()
        if topic not in topics:
            self.fail("amazon-linux-extras has no topic '{}'; topics: {}".format(topic, ", ".join(sorted(topics))))
        if topics[topic] == "enabled":
            return
        repo = EXTRAS["repo"].format(topic=topic)
        self.result["repos_enabled"].append(repo)
        self.result["changed"] = True
        if self.module.check_mode:
            self.extras_repo_pending = repo
        else:
            self.backend.enable_extras(topic)

    def settled(self, names, pins, installed):
        """The packages already where state=present wants them: installed, and at their pin if they have one."""
        if self.params["state"] == "latest":
            return []
        return [n for n in names if n in installed and (pins[n] is None or matches_pin(installed[n], pins[n]))]

    def plan_present(self, names, pins, installed):
        settled = self.settled(names, pins, installed)
        pending = [n for n in names if n not in settled]
        available = self.backend.available(pending, self.params["versionlock"]) if pending else {}
        plan, unknown, unavailable = [], [], []
        for name in names:
            current, pin = installed.get(name), pins[name]
            offers = available.get(name, [])
            if name in settled:
                plan.append((current, current, "none"))
            elif not offers and current is None and self.extras_repo_pending:
                self.module.warn(f"{name} is expected from {self.extras_repo_pending}, which check mode cannot list yet")
                version, _sep, release = (pin or "").partition("-")
                plan.append((None, {"name": name, "epoch": "0", "version": version or None, "release": release or None,
                                    "repo": self.extras_repo_pending}, "install"))
            elif not offers and current is None:
                unknown.append(name)
            else:
                target = pick(self.backend.family, offers + ([current] if current else []), pin)
                if target is None:
                    unavailable.append("{} {} (available: {}; installed: {})".format(
                        name, pin, ", ".join(evr(r) for r in offers) or "none", evr(current) if current else "none"))
                    continue
                order = compare(self.backend.family, current, target) if current else -1
                action = "none" if order == 0 else "install" if current is None else "upgrade" if order < 0 else "downgrade"
                plan.append((current, current if order == 0 else target, action))
        if unknown:
            self.fail("Unknown package(s) for {}: {} - not installed and not available from any enabled repository".format(
                self.backend.name, ", ".join(unknown)))
        if unavailable:
            self.fail("Pinned version not available: {}{}".format("; ".join(unavailable), self.hiding_locks(unavailable)))
        return plan

    def hiding_locks(self, unavailable):
        """Locks that may hide the other versions of the unavailable packages from the listing, as a sentence."""
        if self.params["versionlock"] or not self.backend.spec["versionlock"].get("hides_available"):
            return ""
        names = [text.split(" ", 1)[0] for text in unavailable]
        locks = self.backend.versionlocks(names) or {}
        entries = [record["entry"] for name in names for record in locks.get(name, [])]
        if not entries:
            return ""
        return (". Version locks hide the other versions of these packages: {} (versionlock: true moves the lock "
                "to the pin; or delete it)".format(", ".join(entries)))

    def current_locks(self, names):
        """{name: [lock records]}; a missing versionlock plugin is installed later, after every check."""
        locks = self.backend.versionlocks(names)
        if locks is None:
            self.result["versionlock"]["plugin"] = self.backend.spec["versionlock"]["plugin"]
            self.result["changed"] = True
            return {}
        return locks

    def sync_locks(self, plan, locks):
        """Lock each kept package at the version it is left at; release the locks of removed ones."""
        kept = {target["name"]: target for _before, target, action in plan if action != "remove"}
        removed, added = [], []
        for name in sorted(set(locks) | set(kept)):
            target = kept.get(name)
            current = locks.get(name, [])
            same = [r for r in current if target and (r["version"] is None or evr(r) == evr(target))]
            removed += [r["entry"] for r in current if r not in same]
            if target and not same and target.get("version"):
                added.append(target)
        report = self.result["versionlock"]
        report["removed"] = removed
        report["added"] = [self.backend.lock_entry(target) for target in added]
        self.diff["before"]["versionlock"] = sorted(r["entry"] for records in locks.values() for r in records)
        self.diff["after"]["versionlock"] = sorted(set(self.diff["before"]["versionlock"]) - set(removed)
                                                   | set(report["added"]))
        if removed or added:
            self.result["changed"] = True
        if self.module.check_mode:
            return
        if removed:
            self.backend.delete_locks(removed)
        if added:
            self.backend.add_locks(added)

    def plan_absent(self, names, installed):
        return [(installed[n], installed[n], "remove") for n in names if n in installed]

    def apply(self, plan, names):
        changes = [(before, target, action) for before, target, action in plan if action != "none"]
        if not changes or self.module.check_mode:
            return plan
        for action in CHANGE_ORDER:
            group = [target for _before, target, act in changes if act == action or (action == "install" and act == "upgrade")]
            if group:
                self.backend.apply(action, group, self.params["versionlock"])
        after = self.backend.installed(names)
        final = []
        for before, target, action in plan:
            now = after.get(target["name"])
            if action == "remove" and now is not None:
                self.fail("{} is still installed ({}) after removal".format(target["name"], evr(now)))
            if action in ("install", "upgrade", "downgrade"):
                if now is None or evr(now) != evr(target):
                    self.fail("{} is at {} after {}, expected {}".format(target["name"], evr(now) if now else "nothing", action, evr(target)))
                now["repo"] = "@" + target["repo"].lstrip("@") if target.get("repo") else None
                target = now
            final.append((before, target, action))
        return final

    def purge(self):
        for path in self.data_dirs:
            if os.path.lexists(path):
                if not self.module.check_mode:
                    try:
                        delete_data(path)
                    except (OSError, PurgeError) as exc:
                        self.fail(f"Could not delete the data in {path}: {exc}. The package changes are done; "
                                  "purged_paths lists the directories deleted before this one.")
                self.result["purged_paths"].append(path)
                self.result["changed"] = True

    def run(self):
        params = self.params
        pairs = package_names(self.distro, params["packages"])
        names = [real for _requested, real in pairs]
        pins = self.pins(pairs)
        if params["state"] == "absent" and params["purge_data"]:
            blockers = purge_blockers(self.data_dirs, self.proc_root)
            if blockers:
                self.fail("Refusing purge_data, nothing was changed: {}. Stop the containers and unmount what is "
                          "below the data directories, then run again.".format("; ".join(blockers)))
        self.backend.wait_for_lock_files()
        if params["state"] != "absent":
            self.ensure_extras()
        installed = self.backend.installed(names)
        # Metadata is read only for what is to change: a converged host makes no round trip to the mirrors.
        if (params["update_cache"] and params["state"] != "absent" and not self.module.check_mode
                and len(self.settled(names, pins, installed)) < len(names)):
            self.backend.refresh()
        for name, repo in self.backend.installed_repos(installed).items():
            installed[name]["repo"] = repo
        locks = self.current_locks(names) if params["versionlock"] else {}
        if params["state"] == "absent":
            plan = self.plan_absent(names, installed)
        else:
            plan = self.plan_present(names, pins, installed)
        if self.result["versionlock"]["plugin"] and not self.module.check_mode:
            self.backend.install_lock_plugin()
        plan = self.apply(plan, names)
        if params["versionlock"]:
            self.sync_locks(plan, locks)
        for before, target, action in plan:
            name = target["name"]
            self.result["packages"].append(report(before if action == "remove" else target, action))
            self.diff["before"][name] = evr(before) if before else None
            self.diff["after"][name] = None if action == "remove" else evr(target) if target.get("version") else "unknown"
            self.result["changed"] = self.result["changed"] or action != "none"
        if params["state"] == "absent" and params["purge_data"]:
            self.purge()
        if self.module._diff:
            self.result["diff"] = self.diff
        self.module.exit_json(**self.result)


def main(system=SYSTEM):
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "default": "present", "choices": ["present", "absent", "latest"]},
            "packages": {"type": "list", "elements": "str"},
            "extra_packages": {"type": "list", "elements": "str", "default": []},
            "versions": {"type": "dict", "default": {}},
            "extras_topic": {"type": "str", "default": "docker"},
            "lock_timeout": {"type": "int", "default": 300},
            "update_cache": {"type": "bool", "default": False},
            "purge_data": {"type": "bool", "default": False},
            "versionlock": {"type": "bool", "default": False},
            "backend": {"type": "str", "default": "auto", "choices": ["auto", "yum", "dnf", "apt"]},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["packages"] is None:
        params["packages"] = list(STACK)
    if not params["packages"] or not all(params["packages"]) or not all(params["extra_packages"]):
        module.fail_json(msg="packages must be a non-empty list of package names")
    params["packages"] = params["packages"] + [name for name in params["extra_packages"] if name not in params["packages"]]
    bad = [name for name in list(params["packages"]) + list(params["versions"]) if not PACKAGE_NAME.match(str(name))]
    bad += [f"{name}={value}" for name, value in params["versions"].items()
            if isinstance(value, str) and value and not VERSION_TEXT.match(value)]
    if params["extras_topic"] and not TOPIC_NAME.match(params["extras_topic"]):
        bad.append(f"extras_topic={params['extras_topic']}")
    if bad:
        module.fail_json(msg="Invalid package names or versions (letters, digits and . _ + : - ~ ^, not starting with "
                             "'-'): {}; nothing was run".format(", ".join(repr(item) for item in bad)))
    if params["lock_timeout"] < 0:
        module.fail_json(msg=f"lock_timeout must be 0 or more seconds, got {params['lock_timeout']}")
    if params["purge_data"] and params["state"] != "absent":
        module.fail_json(msg="purge_data is only valid with state=absent (got state={})".format(params["state"]))
    if any(value in (None, "") for value in params["versions"].values()):
        module.fail_json(msg="versions: every pin needs a version, got {}".format(params["versions"]))
    unquoted = [f"{name}: {value!r} ({type(value).__name__})"
                for name, value in params["versions"].items() if not isinstance(value, str)]
    if unquoted:
        module.fail_json(msg="versions: quote every version in YAML, an unquoted 1.10 becomes the number 1.1; got "
                             + ", ".join(unquoted))
    try:
        with open(system.os_release) as handle:
            os_release = handle.read()
    except OSError:
        os_release = ""
    try:
        distro = detect_distro(os_release)[0]
    except PackageManagerError as exc:
        if params["backend"] == "auto":
            module.fail_json(msg=exc.msg, **exc.details)
        distro = BACKEND_DEFAULT_DISTRO[params["backend"]]
    backend_name = DISTROS[distro]["backend"] if params["backend"] == "auto" else params["backend"]
    module.run_command_environ_update = ENVIRONMENT
    lock_files = system.lock_files[backend_name] if system.lock_files else None
    backend = Backend(backend_name, module.run_command, params["lock_timeout"], system.sleep, system.clock, module.warn,
                      lock_files)
    manager = EngineManager(module, backend, distro, system.data_dirs, system.proc_root)
    try:
        manager.run()
    except PackageManagerError as exc:
        manager.fail(exc.msg, **dict(exc.details, changed=manager.result["changed"] or backend.changed))


if __name__ == "__main__":
    main()

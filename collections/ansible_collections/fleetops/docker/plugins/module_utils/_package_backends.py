# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Package-manager backends for fleetops.docker.engine.

Everything that differs between yum (Amazon Linux 2), dnf (Amazon Linux 2023, RHEL family, Fedora)
and apt (Debian/Ubuntu) is DATA in the tables below: the command lines, the parser for their output,
the messages that mean "lock held" or "repository unreachable", the lock files and the per-OS package
names. The Backend class runs those commands through an injected run_command and never branches on
the backend's name.
"""

import os
import re

from ansible_collections.fleetops.docker.plugins.module_utils._package_versions import (
    evr,
    sort_records,
    split_deb_version,
)

OS_RELEASE = "/etc/os-release"
LOCK_POLL_SECONDS = 2
TRANSIENT_RETRIES = 3  # a command that fails on a transient error is run at most this many more times
STACK = ["docker", "containerd", "runc", "libcgroup", "pigz"]

# Distribution key -> its backend and the package name of each logical stack name (None: not a separate package
# there). "platform" in this collection means os/arch[/variant], as in Docker; a distro is what /etc/os-release names.
# Names missing from a map pass through unchanged.
DISTROS = {
    "amzn2": {
        "label": "Amazon Linux 2",
        "backend": "yum",
        "extras": True,
        "names": {"docker": "docker", "containerd": "containerd", "runc": "runc", "libcgroup": "libcgroup", "pigz": "pigz"},
    },
    "amzn2023": {
        "label": "Amazon Linux 2023",
        "backend": "dnf",
        "extras": False,
        "names": {"docker": "docker", "containerd": "containerd", "runc": "runc", "libcgroup": "libcgroup", "pigz": "pigz"},
    },
    "rhel": {
        "label": "RHEL/CentOS Stream/Rocky/AlmaLinux 8+ (Docker CE repository)",
        "backend": "dnf",
        "extras": False,
        "names": {"docker": "docker-ce", "containerd": "containerd.io", "runc": None, "libcgroup": None, "pigz": "pigz"},
    },
    "fedora": {
        "label": "Fedora",
        "backend": "dnf",
        "extras": False,
        "names": {"docker": "moby-engine", "containerd": "containerd", "runc": "runc", "libcgroup": None, "pigz": "pigz"},
    },
    "debian": {
        "label": "Debian/Ubuntu",
        "backend": "apt",
        "extras": False,
        "names": {"docker": "docker.io", "containerd": "containerd", "runc": "runc", "libcgroup": "cgroup-tools", "pigz": "pigz"},
    },
}

# /etc/os-release ID, VERSION_ID pattern -> distro (first match wins).
OS_RELEASE_DISTROS = [
    ("amzn", r"^2$", "amzn2"),
    ("amzn", r"^2023(\.|$)", "amzn2023"),
    ("rhel", r"^([89]|[1-9][0-9])(\.|$)", "rhel"),
    ("centos", r"^([89]|[1-9][0-9])(\.|$)", "rhel"),
    ("rocky", r"^([89]|[1-9][0-9])(\.|$)", "rhel"),
    ("almalinux", r"^([89]|[1-9][0-9])(\.|$)", "rhel"),
    ("fedora", r"", "fedora"),
    ("debian", r"", "debian"),
    ("ubuntu", r"", "debian"),
]
SUPPORTED_OS = "amzn 2 (yum), amzn 2023 (dnf), rhel/centos/rocky/almalinux 8+ (dnf), fedora (dnf), debian/ubuntu (apt)"

# Package names used when `backend` is forced on an OS that is not in OS_RELEASE_DISTROS.
BACKEND_DEFAULT_DISTRO = {"yum": "amzn2", "dnf": "amzn2023", "apt": "debian"}

# "--" ends the options before package names wherever names follow (rpm, dpkg-query, yum, dnf, apt-get and
# apt-cache accept it): a name can never be read as an option, even if one slipped past the module's validation.
END = "--"
RPM_QUERY = ["rpm", "-q", "--queryformat", r"%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SIZE}\n", END]
DPKG_QUERY = ["dpkg-query", "-W", "-f", r"${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\t${Installed-Size}\n", END]
YUM = ["yum", "--setopt=exit_on_lock=True"]
DNF = ["dnf", "--setopt=exit_on_lock=True", "--setopt=skip_if_unavailable=False"]
DNF_QF = "%{name}|%{epoch}|%{version}|%{release}|%{arch}|%{REPO}|%{installsize}"
APT_GET = ["apt-get", "-y", "-o", "DPkg::Lock::Timeout={lock_timeout}",
           "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
APT_MADISON = ["apt-cache", "madison", END]


# Version locks (the `versionlock` option). yum-plugin-versionlock and dnf's versionlock plugin write entries as
# "EPOCH:NAME-VERSION-RELEASE.*" (yum 3) or "NAME-EPOCH:VERSION-RELEASE.*" (dnf 4); apt-mark holds names. `bypass`:
# the extra options with which listing and installing see past the locks, so a pin still resolves and moves them.
def rpm_versionlock(base, entry, add_spec, plugin, hides_available):
    """The versionlock commands of yum or dnf (`base`): the plugin, its entry format and how to see past it."""
    bypass = ["--disableplugin=versionlock"]
    return {
        "list": {"argv": base + ["-q", "versionlock", "list"], "parser": "versionlock"},
        "add": {"argv": base + ["-q", "versionlock", "add"]},
        "delete": {"argv": base + ["-q", "versionlock", "delete"]},
        "add_spec": add_spec,
        "entry": entry,
        "no_plugin": [r"No such command: versionlock"],
        "plugin": plugin,
        "hides_available": hides_available,
        "bypass": {"available": bypass, "install": bypass, "downgrade": bypass},
    }


# yum 3's `list available` leaves out what a lock excludes; dnf's repoquery does not (only its transactions do).
YUM_VERSIONLOCK = rpm_versionlock(YUM, "{epoch}:{name}-{version}-{release}.*", "{name}-{version}-{release}",
                                  "yum-plugin-versionlock", hides_available=True)
DNF_VERSIONLOCK = rpm_versionlock(DNF, "{name}-{epoch}:{version}-{release}.*", "{name}-{epoch}:{version}-{release}",
                                  "python3-dnf-plugin-versionlock", hides_available=False)
APT_VERSIONLOCK = {  # apt-mark holds names; apt-get needs leave to change or remove a held package
    "list": {"argv": ["apt-mark", "showhold"], "parser": "names"},
    "add": {"argv": ["apt-mark", "hold"]},
    "delete": {"argv": ["apt-mark", "unhold"]},
    "add_spec": "{name}",
    "entry": "{name}",
    "no_plugin": [],
    "plugin": None,
    "bypass": {"install": ["--allow-change-held-packages"], "downgrade": ["--allow-change-held-packages"],
               "remove": ["--allow-change-held-packages"]},
}

# rpm's own transaction lock (an rpm or another package manager is mid-transaction): a lock like the others.
RPM_TRANSACTION_LOCK = r"can't create transaction lock on \S+.*"

RPM_NOT_INSTALLED = [r"^package \S+ is not installed$"]
YUM_NO_MATCH = [r"^Error: No matching Packages to list$"]
DPKG_NOT_FOUND = [r"^dpkg-query: no packages found matching "]

BACKENDS = {
    "yum": {
        "family": "rpm",
        # yum 3 matches name-version-release or name-epoch:version-release.arch, not name-epoch:version-release.
        "spec": "{name}-{version}-{release}",
        "spec_epoch": "{name}-{epoch}:{version}-{release}.{arch}",
        "installed": {"argv": RPM_QUERY, "parser": "rpm", "benign": RPM_NOT_INSTALLED},
        "installed_repos": {"argv": YUM + ["-q", "-C", "list", "installed", END], "parser": "yum_list",
                            "benign": YUM_NO_MATCH},
        "available": {"argv": YUM + ["-q", "--showduplicates", "list", "available", END], "parser": "yum_list",
                      "benign": YUM_NO_MATCH},
        "refresh": {"argv": YUM + ["-q", "makecache", "fast"]},
        "install": {"argv": YUM + ["-y", "install", END], "change": True},
        "downgrade": {"argv": YUM + ["-y", "downgrade", END], "change": True},
        "remove": {"argv": YUM + ["-y", "remove", END]},
        "lock_files": ["/var/run/yum.pid"],
        "lock_patterns": [r"Existing lock /var/run/yum\.pid.*", r"Another app is currently holding the yum lock.*",
                          RPM_TRANSACTION_LOCK],
        "transient_patterns": [r"\[Errno 2\] No such file or directory: '/var/cache/yum/\S+\.rpm'"],
        "unreachable_patterns": [r"Cannot retrieve repository metadata.*", r"Could not retrieve mirrorlist.*",
                                 r"Cannot find a valid baseurl for repo.*", r"Could not resolve host.*",
                                 r"One of the configured repositories failed.*"],
        "unreachable_rc0_patterns": [],
        # yum prints the repository and the cause on other lines than the failure it ends with (yummain.py).
        "unreachable_repo_patterns": [r"Cannot find a valid baseurl for repo: (\S+)",
                                      r"for repository: (\S+?)\. Please verify",
                                      r"failure: repodata/repomd\.xml from ([^:\s]+):",
                                      r"One of the configured repositories failed \((?!Unknown\))([^)]+)\)"],
        "unreachable_cause_patterns": [r"(?m)^\d+: (?:Timeout on|curl#).*$", r"\S+: \[Errno \d+\] .*"],
        # On stdout; with other packages to install yum installs them and exits 0 (cli.py installPkgs).
        "missing_patterns": [r"(?m)^No package (\S+) available\."],
        "versionlock": YUM_VERSIONLOCK,
    },
    "dnf": {
        "family": "rpm",
        "spec": "{name}-{evr}",
        "installed": {"argv": RPM_QUERY, "parser": "rpm", "benign": RPM_NOT_INSTALLED},
        "installed_repos": {"argv": DNF + ["-q", "-C", "repoquery", "--installed", "--qf",
                                           DNF_QF.replace("REPO", "from_repo"), END], "parser": "repoquery"},
        "available": {"argv": DNF + ["-q", "repoquery", "--available", "--qf", DNF_QF.replace("REPO", "repoid"), END],
                      "parser": "repoquery"},
        "refresh": {"argv": DNF + ["-q", "makecache"]},
        "install": {"argv": DNF + ["-y", "install", END], "change": True},
        "downgrade": {"argv": DNF + ["-y", "downgrade", END], "change": True},
        "remove": {"argv": DNF + ["-y", "remove", END]},
        "lock_files": ["/var/lib/dnf/rpmdb_lock.pid", "/var/cache/dnf/metadata_lock.pid"],
        "lock_patterns": [r".*already locked by \d+.*", r"Waiting for process with pid \d+ to finish.*",
                          RPM_TRANSACTION_LOCK],
        # Another dnf (an automatic update, `dnf clean`) removed a package this one had downloaded: run it again.
        "transient_patterns": [r"\[Errno 2\] No such file or directory: '/var/cache/dnf/\S+\.rpm'"],
        "unreachable_patterns": [r"Failed to download metadata for repo.*", r"Cannot download repomd\.xml.*",
                                 r"Could not resolve host.*", r"Curl error \(6\).*"],
        # A repository with skip_if_unavailable=True is dropped ("Ignoring repositories: ...") and dnf exits 0.
        "unreachable_rc0_patterns": [r"Failed to download metadata for repo.*", r"Ignoring repositories: .*"],
        "unreachable_repo_patterns": [r"Failed to download metadata for repo '([^']+)'",
                                      r"Errors during downloading metadata for repository '([^']+)'"],
        "unreachable_cause_patterns": [r"Curl error \(\d+\): .*", r"Status code: \d+ for .*"],
        # -q hides the cause: when the failure does not carry it, this (read-only) run without -q shows it.
        "diagnose": {"argv": DNF + ["makecache"]},
        "missing_patterns": [r"(?m)^No match for argument: (\S+)"],
        # A version lock (or an exclude= setting) holds the package: dnf 4.14 says so and exits 1.
        "held_patterns": [r"(?m)^All matches were filtered out by exclude filtering for argument: (\S+)"],
        "versionlock": DNF_VERSIONLOCK,
    },
    "apt": {
        "family": "deb",
        "spec": "{name}={evr}",
        "installed": {"argv": DPKG_QUERY, "parser": "dpkg", "benign": DPKG_NOT_FOUND},
        "installed_repos": {"argv": APT_MADISON, "parser": "madison", "cache": True},
        "available": {"argv": APT_MADISON, "parser": "madison", "cache": True},
        "refresh": {"argv": ["apt-get", "-q", "update"]},
        "install": {"argv": APT_GET + ["install", END], "change": True},
        "downgrade": {"argv": APT_GET + ["--allow-downgrades", "install", END], "change": True},
        "remove": {"argv": APT_GET + ["remove", END]},
        "lock_files": [],
        "lock_patterns": [r"Could not get lock .*", r"Unable to acquire the dpkg frontend lock.*",
                          r"Unable to lock directory .*", r"dpkg frontend lock was locked by another process.*"],
        # dpkg stopped half-way (killed, host lost): apt refuses every change until this has run.
        "interrupted": {"argv": ["dpkg", "--force-confdef", "--force-confold", "--configure", "-a"],
                        "patterns": [r"dpkg was interrupted, you must manually run .*"]},
        "unreachable_patterns": [r"Temporary failure resolving .*", r"Could not resolve '.*",
                                 r"Failed to fetch .*", r"Some index files failed to download.*",
                                 r"Unable to fetch some archives.*"],
        "unreachable_rc0_patterns": [],
        "missing_patterns": [r"(?m)^E: Unable to locate package (\S+)",
                             r"(?m)^E: Version '[^']+' for '([^']+)' was not found"],
        "versionlock": APT_VERSIONLOCK,
    },
}

# amazon-linux-extras (Amazon Linux 2 only): `list` prints " 20  docker=latest  enabled  [ ... ]"; newer versions
# put a dagger (U+2020) before topics that have an end-of-support date (" 20 +docker=latest ...", + for the dagger),
# and some rows carry "_" instead of the number (" _  kernel-5.4  available ..." while kernel-5.10 is enabled).
EXTRAS = {
    "list": {"argv": ["amazon-linux-extras", "list"], "parser": "extras"},
    "enable": {"argv": ["amazon-linux-extras", "enable"]},
    "repo": "amzn2extra-{topic}",
}
EXTRAS_LINE = re.compile(r"^\s*(?:\d+|_)\s+\W?\s*(?P<topic>[A-Za-z0-9_.+-]+)(?:=(?P<version>\S+))?\s+(?P<state>[a-z]+)\b")
YUM_SECTION = re.compile(r"^(Installed|Available) Packages$")


class PackageManagerError(Exception):
    """A failure with a user-facing message and details for fail_json."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


def _record(name, epoch, version, release, arch, repo=None, size_bytes=None):
    return {"name": name, "epoch": epoch or "0", "version": version, "release": release, "arch": arch,
            "repo": repo, "size_bytes": size_bytes}


def _int_or_none(text):
    return int(text) if text.isdigit() else None


def split_rpm_evr(text):
    """'2:1.13.1-209.el7' -> ('2', '1.13.1', '209.el7')."""
    epoch, _sep, rest = text.rpartition(":")
    version, _sep, release = rest.rpartition("-")
    return epoch or "0", version, release


def parse_rpm(out):
    """rpm -q --queryformat NAME\\tEPOCHNUM\\tVERSION\\tRELEASE\\tARCH\\tSIZE; 'package x is not installed' skipped."""
    records = []
    for line in out.splitlines():
        fields = line.split("\t")
        if len(fields) == 6:
            name, epoch, version, release, arch, size = fields
            records.append(_record(name, epoch, version, release, arch, size_bytes=_int_or_none(size)))
    return records


def parse_dpkg(out):
    """dpkg-query -W -f Package\\tVersion\\tArchitecture\\tdb:Status-Abbrev\\tInstalled-Size (KiB); installed only."""
    records = []
    for line in out.splitlines():
        fields = line.split("\t")
        if len(fields) == 5 and len(fields[3]) > 1 and fields[3][1] in "iWt":
            name, full, arch, _status, kib = fields
            epoch, version, release = split_deb_version(full)
            size = _int_or_none(kib)
            records.append(_record(name, epoch, version, release, arch, size_bytes=None if size is None else size * 1024))
    return records


def parse_yum_list(out):
    """yum list: 'name.arch  [epoch:]version-release  repo' under 'Installed/Available Packages'.

    yum wraps long rows onto the next line, so each section is read as a stream of words taken three
    at a time. Installed rows carry '@repo' (or 'installed' when yum does not know the origin).
    """
    words = {}
    section = None
    for line in out.splitlines():
        header = YUM_SECTION.match(line.strip())
        if header:
            section = header.group(1).lower()
            words.setdefault(section, [])
        elif section:
            words[section].extend(line.split())
    records = []
    for section in sorted(words):
        stream = words[section]
        for start in range(0, len(stream) - 2, 3):
            name_arch, evr_text, repo = stream[start:start + 3]
            name, _dot, arch = name_arch.rpartition(".")
            epoch, version, release = split_rpm_evr(evr_text)
            records.append(_record(name, epoch, version, release, arch, repo=repo))
    return records


def parse_repoquery(out):
    """dnf repoquery --qf 'name|epoch|version|release|arch|repo|installsize'."""
    records = []
    for line in out.splitlines():
        fields = line.strip().split("|")
        if len(fields) == 7:
            name, epoch, version, release, arch, repo, size = fields
            records.append(_record(name, epoch, version, release, arch, repo=repo or None, size_bytes=_int_or_none(size)))
    return records


def parse_madison(out):
    """apt-cache madison: ' pkg | version | http://deb.debian.org/debian bookworm/main amd64 Packages'."""
    records, seen = [], set()
    for line in out.splitlines():
        fields = [field.strip() for field in line.split("|")]
        if len(fields) != 3 or not fields[2].endswith(" Packages"):
            continue
        name, full, source = fields
        repo, _sp, arch = source[:-len(" Packages")].rpartition(" ")
        if (name, full) not in seen:
            seen.add((name, full))
            epoch, version, release = split_deb_version(full)
            records.append(_record(name, epoch, version, release, arch, repo=repo))
    return records


def parse_extras(out):
    """amazon-linux-extras list -> {topic: state}; rows numbered or "_", wrapped '[ =1.0 ... ]' lines and footers ignored."""
    topics = {}
    for line in out.splitlines():
        match = EXTRAS_LINE.match(line)
        if match:
            topics[match.group("topic")] = match.group("state")
    return topics


VERSIONLOCK_ENTRY = re.compile(r"^(?:(?P<epoch>\d+):)?(?P<name>\S+?)-(?:(?P<dnf_epoch>\d+):)?(?P<version>[^-\s:]+)"
                               r"-(?P<release>[^-\s]+)\.(?:\*|[A-Za-z0-9_]+)$")


def parse_versionlock(out):
    """yum/dnf versionlock list: '0:containerd-1.4.1-2.amzn2.*' (yum 3), 'containerd-0:1.7.20-1.amzn2023.0.1.*' (dnf 4).

    Each record carries the line as `entry`; comments, '!' excludes and the plugins' chatter are skipped."""
    records = []
    for line in out.splitlines():
        match = VERSIONLOCK_ENTRY.match(line.strip())
        if match:
            epoch = match.group("epoch") or match.group("dnf_epoch")
            record = _record(match.group("name"), epoch, match.group("version"), match.group("release"), None)
            record["entry"] = line.strip()
            records.append(record)
    return records


def parse_names(out):
    """apt-mark showhold: one held package name a line."""
    return [dict(_record(line.strip(), None, None, None, None), entry=line.strip())
            for line in out.splitlines() if line.strip()]


PARSERS = {"rpm": parse_rpm, "dpkg": parse_dpkg, "yum_list": parse_yum_list, "repoquery": parse_repoquery,
           "madison": parse_madison, "extras": parse_extras, "versionlock": parse_versionlock, "names": parse_names}


def parse_os_release(text):
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip("\"'")
    return values


def detect_distro(os_release_text):
    """(distro key, ID, VERSION_ID); raises PackageManagerError for an unsupported OS."""
    values = parse_os_release(os_release_text)
    os_id, version_id = values.get("ID", ""), values.get("VERSION_ID", "")
    for wanted_id, version_pattern, distro in OS_RELEASE_DISTROS:
        if os_id == wanted_id and re.search(version_pattern, version_id):
            return distro, os_id, version_id
    raise PackageManagerError(
        "Unsupported OS: ID={} VERSION_ID={}. Supported: {}.".format(os_id or "?", version_id or "?", SUPPORTED_OS),
        os_id=os_id, version_id=version_id)


def package_names(distro, logical_names):
    """[(requested name, package name)] with per-OS names; logical names without a package there are dropped."""
    names = DISTROS[distro]["names"]
    pairs = []
    for requested in logical_names:
        real = names.get(requested, requested)
        if real and real not in [pair[1] for pair in pairs]:
            pairs.append((requested, real))
    return pairs


def _first_match(patterns, text):
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return match.group(0).strip()
    return None


def _first_group(patterns, text):
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return match.group(1)
    return None


def _benign(patterns, stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    return all(any(re.search(p, line) for p in patterns) for line in lines)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == 1  # EPERM: it exists, we just may not signal it
    return True


class Backend:
    """Runs one backend's declared commands with lock waiting and error classification."""

    def __init__(self, name, run_command, lock_timeout, sleep, clock, warn=None, lock_files=None):
        """lock_files: the pid files to wait for (None: the backend's own, from BACKENDS)."""
        self.name = name
        self.spec = BACKENDS[name]
        self.family = self.spec["family"]
        self.lock_timeout = lock_timeout
        self.lock_files = self.spec["lock_files"] if lock_files is None else lock_files
        self.changed = False  # set once a change command (install, remove, enable) has succeeded
        self._run_command = run_command
        self._sleep = sleep
        self._clock = clock
        self._warn = warn or (lambda msg: None)
        self._cache = {}
        self._recovered = False  # the interrupted-transaction repair runs at most once

    def argv(self, command, args=(), extra=()):
        base = [part.replace("{lock_timeout}", str(self.lock_timeout)) for part in command["argv"]]
        return base[:1] + list(extra) + base[1:] + list(args)

    def _outcome(self):
        return "no further change was made" if self.changed else "nothing was changed"

    def wait_for_lock_files(self):
        """Poll pid lock files (yum.pid, dnf *.pid) until free; nothing is run while they are held."""
        deadline = self._clock() + self.lock_timeout
        while True:
            holder = self._lock_holder()
            if holder is None:
                return
            if self._clock() >= deadline:
                raise PackageManagerError(
                    f"Package manager lock {holder[0]} is still held by pid {holder[1]} after "
                    f"lock_timeout={self.lock_timeout}s; {self._outcome()}.",
                    lock_file=holder[0], lock_pid=holder[1])
            self._sleep(LOCK_POLL_SECONDS)

    def _lock_holder(self):
        for path in self.lock_files:
            try:
                with open(path) as handle:
                    pid = int(handle.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if pid != os.getpid() and pid_alive(pid):
                return path, pid
        return None

    def run(self, command, args=(), extra=()):
        """Run a declared command (`extra`: options after the program name); retry on a lock, classify failures."""
        argv = self.argv(command, args, extra)
        key = (tuple(self.argv(command, (), extra)), tuple(sorted(args)))  # same names in any order: same answer
        if command.get("cache") and key in self._cache:
            return self._cache[key]
        deadline = self._clock() + self.lock_timeout
        retries = 0
        while True:
            rc, out, err = self._run_command(argv)
            text = f"{out}\n{err}"
            lock_line = _first_match(self.spec["lock_patterns"], text) if rc != 0 else None
            transient = _first_match(self.spec.get("transient_patterns", []), text) if rc != 0 else None
            if not (lock_line or transient):
                break
            if transient and retries >= TRANSIENT_RETRIES:
                raise PackageManagerError(
                    f"{argv[0]} failed {retries + 1} times on a transient error (another package manager run "
                    f"changing its cache): {transient}; {self._outcome()}.", cmd=argv, rc=rc, stdout=out, stderr=err)
            if self._clock() >= deadline:
                raise PackageManagerError(
                    f"Package manager lock still held after lock_timeout={self.lock_timeout}s: {lock_line or transient}; "
                    f"{self._outcome()}.", cmd=argv, rc=rc, stdout=out, stderr=err)
            if transient:
                retries += 1
                self._warn(f"{argv[0]} met a transient error and is run again ({retries}/{TRANSIENT_RETRIES}): {transient}")
            self._sleep(LOCK_POLL_SECONDS)
        interrupted = self.spec.get("interrupted")
        if rc != 0 and interrupted and not self._recovered and _first_match(interrupted["patterns"], text):
            self._recovered = True
            self._warn(f"{_first_match(interrupted['patterns'], text)} -- running {' '.join(interrupted['argv'])} first")
            self.run(interrupted)
            self.changed = True
            return self.run(command, args, extra)
        unreachable = _first_match(self.spec["unreachable_patterns" if rc != 0 else "unreachable_rc0_patterns"], text)
        if unreachable:
            raise PackageManagerError(f"Package repository unreachable ({self.name}): {self._repo_failure(unreachable, text)}",
                                      cmd=argv, rc=rc, stdout=out, stderr=err)
        problem = _first_match(self.spec["unreachable_patterns"], text) if rc == 0 else None
        if problem:
            self._warn(f"{argv[0]} succeeded but reported a repository problem (its package lists may be old): {problem}")
        held = self._missing(text, "held_patterns")
        if held:
            raise PackageManagerError(
                "{} {} exited {}: {} held back by a version lock or an exclude setting (versionlock: true moves the "
                "module's own locks); {}.".format(argv[0], [w for w in command["argv"] if w != END][-1], rc, ", ".join(held), self._outcome()),
                cmd=argv, rc=rc, stdout=out, stderr=err, held=held)
        missing = self._missing(text)
        if missing and (rc != 0 or command.get("change")):
            if rc == 0:
                self.changed = True
            raise PackageManagerError(
                "{} {} exited {}: no package available for {}; {}.".format(
                    argv[0], [w for w in command["argv"] if w != END][-1], rc, ", ".join(missing),
                    "it installed the other packages it was given" if rc == 0 else self._outcome()),
                cmd=argv, rc=rc, stdout=out, stderr=err, missing=missing)
        if rc != 0 and not (command.get("benign") and _benign(command["benign"], err)):
            detail = (err or out).strip()
            raise PackageManagerError(f"Command failed (rc={rc}): {' '.join(argv)}: {detail}",
                                      cmd=argv, rc=rc, stdout=out, stderr=err)
        if command.get("cache"):
            self._cache[key] = out
        return out

    def _missing(self, text, key="missing_patterns"):
        missing = []
        for pattern in self.spec.get(key, []):
            missing.extend(name for name in re.findall(pattern, text) if name not in missing)
        return missing

    def _repo_failure(self, headline, text):
        """The failure line, with the repository and the cause that yum/dnf/apt printed elsewhere."""
        causes = self.spec.get("unreachable_cause_patterns", [])
        if not _first_match(causes, text) and "diagnose" in self.spec:
            _rc, out, err = self._run_command(self.argv(self.spec["diagnose"]))
            text = f"{text}\n{out}\n{err}"
        repo = _first_group(self.spec.get("unreachable_repo_patterns", []), text)
        cause = _first_match(causes, text)
        parts = [headline.rstrip(",")]
        if repo and repo not in headline:
            parts.append(f"repository {repo}")
        if cause and cause not in headline:
            parts.append(f"cause: {cause}")
        return "; ".join(parts)

    def _query(self, key, names, extra=()):
        command = self.spec[key]
        return [r for r in PARSERS[command["parser"]](self.run(command, names, extra)) if r["name"] in names]

    def installed(self, names):
        """{name: newest installed record} for the names that are installed."""
        found = {}
        for record in sort_records(self.family, self._query("installed", names)):
            found[record["name"]] = record
        return found

    def installed_repos(self, installed):
        """{name: '@repo'} for installed records: where the package manager says they came from."""
        if not installed:
            return {}
        repos = {}
        for record in self._query("installed_repos", sorted(installed)):
            current = installed.get(record["name"])
            if current and record["repo"] and evr(record) == evr(current):
                repos[record["name"]] = record["repo"] if record["repo"] in ("installed",) else "@" + record["repo"].lstrip("@")
        return repos

    def available(self, names, past_locks=False):
        """{name: [records oldest first]} from the enabled repositories (past_locks: versions locks hide too)."""
        found = {name: [] for name in names}
        for record in self._query("available", names, self._bypass("available", past_locks)):
            found[record["name"]].append(record)
        return {name: sort_records(self.family, records) for name, records in found.items()}

    def refresh(self):
        self.run(self.spec["refresh"])

    def spec_of(self, record):
        """The install argument for an exact version (yum 3 needs the arch when there is an epoch)."""
        template = self.spec["spec_epoch"] if record.get("epoch", "0") != "0" and "spec_epoch" in self.spec else self.spec["spec"]
        return template.format(evr=evr(record), **{k: record.get(k) for k in ("name", "epoch", "version", "release", "arch")})

    def apply(self, action, records, past_locks=False):
        """Install/upgrade/downgrade exact versions (name-evr, name=evr); remove by name."""
        specs = [r["name"] if action == "remove" else self.spec_of(r) for r in records]
        out = self.run(self.spec[action], specs, self._bypass(action, past_locks))
        self.changed = True
        return out

    def _bypass(self, key, past_locks):
        return self.spec["versionlock"]["bypass"].get(key, []) if past_locks else []

    def versionlocks(self, names):
        """{name: [lock records with `entry`]} for the names; None when the versionlock plugin is missing."""
        lock = self.spec["versionlock"]
        try:
            records = PARSERS[lock["list"]["parser"]](self.run(lock["list"]))
        except PackageManagerError as exc:
            if _first_match(lock["no_plugin"], "{}\n{}".format(exc.details.get("stdout", ""), exc.details.get("stderr", ""))):
                return None
            raise
        found = {}
        for record in records:
            if record["name"] in names:
                found.setdefault(record["name"], []).append(record)
        return found

    def lock_entry(self, record):
        return self.spec["versionlock"]["entry"].format(**record)

    def install_lock_plugin(self):
        self.run(self.spec["install"], [self.spec["versionlock"]["plugin"]])
        self.changed = True

    def add_locks(self, records):
        lock = self.spec["versionlock"]
        self.run(lock["add"], [lock["add_spec"].format(**record) for record in records])
        self.changed = True

    def delete_locks(self, entries):
        self.run(self.spec["versionlock"]["delete"], entries)
        self.changed = True

    def extras_topics(self):
        return parse_extras(self.run(EXTRAS["list"]))

    def enable_extras(self, topic):
        self.run(EXTRAS["enable"], [topic])
        self.changed = True

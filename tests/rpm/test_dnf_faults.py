"""Real faults on real dnf 4.14 (AL2023 stand-in) and real apt holds: each fault leaves the host as it was.

Lock holders are real: dnf's own lock code (dnf.lock) and rpm's transaction lock (a POSIX lock on /var/lib/rpm/.rpm.lock,
the one rpm takes). The repository server is this session's own copy, stopped and started here.
"""
import re
import time

import pytest
from conftest import engine, repo_down, repo_up, sh

STACK = ["docker", "containerd", "runc", "libcgroup", "pigz"]
HOLD_DNF_LOCK = ("python3 -c 'import dnf.lock, time; lock = dnf.lock.build_rpmdb_lock(\"/var/lib/dnf\", True); "
                 "lock.__enter__(); time.sleep({seconds})'")
HOLD_RPM_LOCK = ("python3 -c 'import fcntl, os, time; fd = os.open(\"/var/lib/rpm/.rpm.lock\", os.O_RDWR | os.O_CREAT); "
                 "fcntl.lockf(fd, fcntl.LOCK_EX); open(\"/run/rpm-lock-held\", \"w\").close(); time.sleep({seconds})'")

# The [x] keeps pkill from matching the shell that runs it.
KILL_HOLDERS = "pkill -f 'import [d]nf.lock|import [f]cntl|[u]ntil \\[' || true"


def rpm_state(host):
    return sh(host, "rpm -qa | sort; dnf -q versionlock list").stdout


def in_background(host, script):
    sh(host, f"setsid nohup bash -c {quote(script)} >/dev/null 2>&1 &")


def quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def wait_for(host, test, seconds=60):
    deadline = time.monotonic() + seconds
    while sh(host, test, check=False).returncode:
        assert time.monotonic() < deadline, f"timed out waiting for: {test}"
        time.sleep(0.5)


@pytest.fixture
def clean(standin):
    """The stand-in without the stack, no locks and no lock holders, before and after each test."""
    def reset():
        sh(standin, f"{KILL_HOLDERS}; rm -f /run/rpm-lock-held; "
                    "dnf -q -y remove docker containerd runc libcgroup pigz >/dev/null 2>&1 || true; "
                    "dnf -q versionlock clear >/dev/null 2>&1 || true")
    reset()
    yield standin
    reset()


def test_a_pin_the_repository_lacks_lists_what_it_offers(clean):
    before = rpm_state(clean)
    result = engine(clean, versions={"docker": "25.0.99"})
    assert result["failed"] and not result["changed"]
    assert result["msg"] == ("Pinned version not available: docker 25.0.99 (available: 25.0.6-1.amzn2023.0.2, "
                             "25.0.8-1.amzn2023.0.1; installed: none)")
    assert rpm_state(clean) == before


def test_the_repository_server_stopped_is_unreachable_and_nothing_changes(clean):
    before = rpm_state(clean)
    repo_down()
    try:
        result = engine(clean, packages=["pigz"])
    finally:
        repo_up()
    assert result["failed"] and not result["changed"]
    assert result["msg"].startswith("Package repository unreachable (dnf): ")
    assert "amazonlinux" in result["msg"] and "Curl error" in result["msg"], result["msg"]
    assert rpm_state(clean) == before


def test_another_dnf_holding_its_lock_is_waited_for_then_fails_clearly(clean):
    before = rpm_state(clean)
    in_background(clean, HOLD_DNF_LOCK.format(seconds=60))
    wait_for(clean, "test -s /var/lib/dnf/rpmdb_lock.pid")
    holder = sh(clean, "cat /var/lib/dnf/rpmdb_lock.pid").stdout.strip()
    started = time.monotonic()
    result = engine(clean, packages=["pigz"], lock_timeout=4)
    assert time.monotonic() - started >= 4
    assert result["failed"] and not result["changed"]
    assert result["msg"] == (f"Package manager lock /var/lib/dnf/rpmdb_lock.pid is still held by pid {holder} after "
                             "lock_timeout=4s; nothing was changed.")
    assert rpm_state(clean) == before


def test_a_dnf_lock_released_in_time_lets_the_install_proceed(clean):
    in_background(clean, HOLD_DNF_LOCK.format(seconds=6))
    wait_for(clean, "test -s /var/lib/dnf/rpmdb_lock.pid")
    result = engine(clean, packages=["pigz"], lock_timeout=120)
    assert result["changed"] and not result.get("failed"), result.get("msg")
    assert sh(clean, "rpm -q pigz").stdout.strip() == "pigz-2.5-1.amzn2023.0.3.x86_64"


def test_rpms_transaction_lock_is_a_lock_too(clean):
    before = rpm_state(clean)
    in_background(clean, HOLD_RPM_LOCK.format(seconds=60))
    wait_for(clean, "test -e /run/rpm-lock-held")
    result = engine(clean, packages=["pigz"], lock_timeout=6)
    assert result["failed"] and not result["changed"]
    assert result["msg"] == ("Package manager lock still held after lock_timeout=6s: can't create transaction lock on "
                             "/var/lib/rpm/.rpm.lock (Resource temporarily unavailable); nothing was changed.")
    assert rpm_state(clean) == before

    sh(clean, f"{KILL_HOLDERS}; rm -f /run/rpm-lock-held")
    in_background(clean, HOLD_RPM_LOCK.format(seconds=8))
    wait_for(clean, "test -e /run/rpm-lock-held")
    result = engine(clean, packages=["pigz"], lock_timeout=120)
    assert result["changed"] and not result.get("failed"), result.get("msg")


def test_errno2_from_a_concurrent_transaction_is_retried(clean):
    """Another process empties dnf's package cache while dnf installs (as a concurrent update or `dnf clean packages`
    does on AL2023) until dnf has failed once with "[Errno 2] No such file or directory: '/var/cache/dnf/...rpm'"."""
    logged = int(sh(clean, "grep -c 'CRITICAL \\[Errno 2\\]' /var/log/dnf.log || true").stdout.strip() or 0)
    in_background(clean, f"until [ $(grep -c 'CRITICAL \\[Errno 2\\]' /var/log/dnf.log) -gt {logged} ]; do "
                         "rm -f /var/cache/dnf/*/packages/*.rpm; done")
    result = engine(clean, versions={"docker": "25.0.8-1.amzn2023.0.1"}, lock_timeout=120)
    assert result["changed"] and not result.get("failed"), result.get("msg")
    assert any(re.search(r"met a transient error and is run again \(1/3\): \[Errno 2\] No such file or directory: "
                         r"'/var/cache/dnf/\S+\.rpm'", warning) for warning in result.get("warnings", [])), result
    assert sh(clean, "rpm -q docker").stdout.strip() == "docker-25.0.8-1.amzn2023.0.1.x86_64"


def test_apt_mark_hold_on_a_real_debian_host(bookworm):
    """versionlock on apt: held after install, idempotent, and released by state=absent."""
    first = engine(bookworm, packages=["pigz"], versionlock=True)
    assert first["changed"] and first["versionlock"] == {"added": ["pigz"], "removed": [], "plugin": None}, first
    assert sh(bookworm, "apt-mark showhold").stdout.split() == ["pigz"]
    again = engine(bookworm, packages=["pigz"], versionlock=True)
    assert not again["changed"] and again["versionlock"] == {"added": [], "removed": [], "plugin": None}
    removed = engine(bookworm, packages=["pigz"], versionlock=True, state="absent")
    assert removed["changed"] and removed["versionlock"]["removed"] == ["pigz"]
    assert sh(bookworm, "apt-mark showhold").stdout.split() == []
    assert sh(bookworm, "dpkg-query -W -f '${db:Status-Abbrev}' pigz", check=False).stdout.strip() in ("", "rc", "un")


AL2_REPOS = """\
[amzn2-core]
name=Amazon Linux 2 core repository (fleetops stand-in)
baseurl=http://{server}/amzn2-core/
gpgcheck=0
[amzn2extra-docker]
name=Amazon Extras repo for docker (fleetops stand-in)
baseurl=http://{server}/amzn2extra-docker/
gpgcheck=0
"""
# The AL2 "Removing:" table (a real AL2 host's `yum remove docker`, in the project's notes /work/shared/seeds):
# name, arch, version-release, repository (sizes differ: the stand-in RPMs carry Debian's binaries).
AL2_REMOVAL_ROWS = [
    ("containerd", "x86_64", "1.7.11-1.amzn2.0.1", "@amzn2extra-docker"),
    ("docker", "x86_64", "20.10.25-1.amzn2.0.4", "@amzn2extra-docker"),
    ("libcgroup", "x86_64", "0.41-21.amzn2", "@amzn2-core"),
    ("pigz", "x86_64", "2.3.4-1.amzn2.0.1", "@amzn2-core"),
    ("runc", "x86_64", "1.1.11-1.amzn2", "@amzn2extra-docker"),
]


def test_the_al2_removal_tables_stack_installs_and_removes_through_real_dnf(clean):
    """dnf install docker-20.10.25-1.amzn2.0.4 from Amazon's AL2 repository ids resolves the AL2 removal table's
    four dependencies; dnf remove docker then lists that table's rows (docker, and its dependencies as unused)."""
    from conftest import REPO_ALIAS

    sh(clean, f"cat > /etc/yum.repos.d/amzn2.repo <<'REPO'\n{AL2_REPOS.format(server=REPO_ALIAS)}REPO")
    try:
        only_al2 = "--disablerepo=amazonlinux"
        installed = sh(clean, f"dnf -y {only_al2} install docker-20.10.25-1.amzn2.0.4 && rpm -qa | sort").stdout
        assert [line for line in installed.splitlines() if line.endswith(".x86_64")] == [
            "containerd-1.7.11-1.amzn2.0.1.x86_64", "docker-20.10.25-1.amzn2.0.4.x86_64",
            "libcgroup-0.41-21.amzn2.x86_64", "pigz-2.3.4-1.amzn2.0.1.x86_64", "runc-1.1.11-1.amzn2.x86_64"]
        removed = sh(clean, f"dnf -y {only_al2} remove docker").stdout
        rows = [tuple(line.split()[:4]) for line in removed.splitlines()
                if line.startswith(" ") and len(line.split()) == 6 and line.split()[3].startswith("@")]
        assert sorted(rows) == AL2_REMOVAL_ROWS
        assert "Removing unused dependencies:" in removed
        assert removed.index(" docker ") < removed.index("Removing unused dependencies:")
        assert sh(clean, "rpm -qa").stdout.strip() == ""
    finally:
        sh(clean, "rm -f /etc/yum.repos.d/amzn2.repo")

"""Faults injected on the local fleet: registry and dockerd killed mid-pull, the playbook killed mid-run, the dpkg
lock held, secrets in a verbose run.

Real hosts (systemd, dockerd, apt), real SSH, a real registry that the tests stop and start, real signals. The
trixie host takes the kills mid-converge and the secrets run; the bookworm host converges meanwhile, then takes
the registry, dockerd and lock faults. An unreachable host is covered by the Molecule `fleet` scenario.
"""
import base64
import json
import secrets
import signal
import time

import faultlib as f
import fleet as local_fleet

TRIXIE = "flt-trixie1"
SITE = "playbooks/site.yml"
IMAGES = "tests/faults/playbooks/images.yml"
ENGINE_ROLE = "tests/faults/playbooks/engine.yml"
SECRETS = "tests/faults/playbooks/secrets.yml"
PULL = "fleetops.docker.image_pull"
ENGINE = "fleetops.docker.engine"
STACK = ["docker.io", "containerd", "runc", "cgroup-tools", "pigz"]
OPERATOR_DAEMON_JSON = '{"max-concurrent-downloads": 2}\n'
TRIXIE_IMAGES = {"docker_images_required": [f.flaky("present"), f.flaky("big-d")]}
# A real apt lock: apt takes fcntl locks (flock(1) would not block it), so the holder takes the same lock apt does.
HOLD_LOCK = ("import fcntl, os, sys, time; lock = open('/var/lib/dpkg/lock-frontend', 'r+'); fcntl.lockf(lock, fcntl.LOCK_EX); "
             "open('/run/flt-lock.held', 'w').write(str(os.getpid())); time.sleep(float(sys.argv[1]))")


def fault(request, what):
    f.FAULTS.append((request.node.name, what))


def assert_module_failure(run, action, host, *words):
    """A clear failure reported by the module itself: no crash (a crash has no `invocation`), no traceback."""
    result = run.result(action, host)
    assert result.get("failed"), f"{action} did not fail: {json.dumps(result)[:2000]}"
    assert "invocation" in result, f"{action} crashed instead of failing: {result.get('msg')}"
    assert "Traceback" not in run.out and "Module failed" not in result["msg"], result["msg"]
    for word in words:
        assert word in result["msg"], f"{word!r} not in {result['msg']!r}"
    return result


def image_id(host, ref):
    proc = f.on_host(host, f"docker image inspect -f '{{{{.Id}}}}' {ref}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def pids(host, *names):
    return f.on_host(host, " ; ".join(f"pgrep -x {name}" for name in names) + "; true").stdout.split()


# ---------------------------------------------------------------- 3. the playbook killed mid-converge
def test_playbook_killed_in_the_package_step_leaves_dpkg_interrupted(fleet, request):
    f.on_host(TRIXIE, f"mkdir -p /etc/docker && printf '%s' '{OPERATOR_DAEMON_JSON}' > /etc/docker/daemon.json")
    run = f.start(SITE, TRIXIE, TRIXIE_IMAGES)

    def unpacking():
        if run.poll() is not None:
            raise AssertionError("the converge ended before dpkg unpacked anything:\n" + run.communicate()[0][-3000:])
        return f.on_host(TRIXIE, "pgrep -f '^/usr/bin/dpkg .*--unpack'", check=False).returncode == 0

    f.wait_until(unpacking, 300, "dpkg --unpack on the trixie host", interval=0.3)
    time.sleep(0.5)
    on_host = pids(TRIXIE, "dpkg", "apt-get")
    f.kill(run, signal.SIGKILL)  # the controller dies: the whole ansible-playbook process group
    f.on_host(TRIXIE, "kill -KILL " + " ".join(on_host), check=False)  # and the host loses apt and dpkg with it
    fault(request, "SIGKILL of ansible-playbook and of apt/dpkg during the package step")
    audit = f.on_host(TRIXIE, "dpkg --audit", check=False).stdout
    assert audit.strip(), "dpkg finished before the kill: the fault did not land"


def test_rerun_repairs_dpkg_then_is_killed_in_the_pull_step(fleet, request):
    run = f.start(SITE, TRIXIE, TRIXIE_IMAGES, json_out=False)
    f.wait_for_download(run=run, seconds=300)
    _rc, out = f.kill(run, signal.SIGTERM)  # a cancelled CI job: SIGTERM to the process group
    out = " ".join(out.split())  # warnings are wrapped
    fault(request, "SIGTERM of ansible-playbook during the pull step")
    assert "dpkg was interrupted, you must manually run" in out  # apt adds 'sudo' under sudo
    assert "running dpkg --force-confdef --force-confold --configure -a first" in out
    assert "Traceback" not in out


def test_rerun_after_the_kills_reaches_the_final_state_with_nothing_lost(fleet):
    run = f.play(SITE, TRIXIE, TRIXIE_IMAGES)
    assert run.rc == 0, run.failures()
    status = f.on_host(TRIXIE, "dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' " + " ".join(STACK)).stdout
    assert sorted(status.split("\n")[:-1]) == sorted(f"{name} ii " for name in STACK), status
    assert f.on_host(TRIXIE, "dpkg --audit").stdout == ""
    assert f.on_host(TRIXIE, "systemctl is-active containerd docker").stdout.split() == ["active", "active"]
    for name in ("present", "big-d"):
        assert image_id(TRIXIE, f.flaky(name)), f"{name} is missing"
    daemon = json.loads(f.on_host(TRIXIE, "cat /etc/docker/daemon.json").stdout)
    expected = json.loads((f.STATE / "inventory.yml").read_text())["flt_hosts"]["vars"]["docker_engine_daemon_options"]
    assert daemon == dict(expected, **json.loads(OPERATOR_DAEMON_JSON))
    backups = f.on_host(TRIXIE, "ls /etc/docker/ | grep '^daemon.json\\..*~$'; true").stdout.split()
    assert len(backups) == 1, backups  # the first (killed) run merged once; later runs changed nothing
    assert f.on_host(TRIXIE, f"cat /etc/docker/{backups[0]}").stdout == OPERATOR_DAEMON_JSON
    again = f.play(SITE, TRIXIE, TRIXIE_IMAGES)
    assert again.rc == 0 and again.changed(TRIXIE) == 0, again.failures() or again.doc["stats"]


# ---------------------------------------------------------------- 5. secrets at -vvv
def test_no_secret_in_output_journal_fact_cache_reports_or_backups(fleet, tmp_path):
    token = secrets.token_hex(6)
    proxy_password = f"S3cr3t-proxy-{token}"
    auth_password = f"flt-auth-{token}"
    sentinels = {
        "registry password": local_fleet.PRIVATE_PASSWORD,
        "identity token": f"flt-idtoken-{token}",
        "proxy password": proxy_password,
        "config.json auth": base64.b64encode(f"flt-user:{auth_password}".encode()).decode(),
        "config.json auth password": auth_password,
        "HttpHeaders token": f"flt-header-{token}",
    }
    proxy = f"http://flt-proxy-user:{proxy_password}@proxy.invalid:3128"
    inventory = json.loads((f.STATE / "inventory.yml").read_text())["flt_hosts"]["vars"]
    private_image = "private.fleet.test/fleetops/private:1.0"
    extra = {
        "docker_engine_daemon_options": dict(inventory["docker_engine_daemon_options"],
                                             proxies={"http-proxy": proxy, "https-proxy": proxy, "no-proxy": "*"}),
        "docker_images_required": [*TRIXIE_IMAGES["docker_images_required"], private_image],
        "docker_images_registry_auth": [
            {"registry": "private.fleet.test", "username": local_fleet.PRIVATE_USER,
             "password": local_fleet.PRIVATE_PASSWORD},
            {"registry": "token.fleet.invalid", "identity_token": sentinels["identity token"]}],
        "docker_images_docker_config": "/root/.docker/config.json",
        "docker_images_remote_facts": True,
        "flt_client_config": {"auths": {"sentinel.fleet.invalid": {"auth": sentinels["config.json auth"]}},
                              "HttpHeaders": {"X-Flt-Token": sentinels["HttpHeaders token"]}},
    }
    secrets_file = f.STATE / "secrets.json"  # like a vaulted vars file: the secrets never reach the command line
    secrets_file.write_text(json.dumps(extra))
    secrets_file.chmod(0o600)
    f.on_host(TRIXIE, "mkdir -p -m 0700 /root/.docker && printf '%s' '{\"psFormat\": \"table\"}' >"
                      " /root/.docker/config.json && chmod 0600 /root/.docker/config.json")
    run = f.play(SECRETS, TRIXIE, args=["-e", f"@{secrets_file}", "-vvv", "--diff"], json_out=False)
    secrets_file.unlink()
    assert run.rc == 0, run.out[-4000:]

    # The secrets were in play: the pull used the password, dockerd runs with the proxy, the client config has auths.
    assert image_id(TRIXIE, private_image)
    assert "proxy.invalid:3128" in f.on_host(TRIXIE, "docker info").stdout
    assert proxy_password in f.on_host(TRIXIE, "cat /etc/docker/daemon.json").stdout
    assert sentinels["config.json auth"] in f.on_host(TRIXIE, "cat /root/.docker/config.json").stdout

    places = {"ansible-playbook -vvv --diff output": run.out,
              "journal": f.on_host(TRIXIE, "journalctl -o verbose --no-pager").stdout,
              "syslog files": f.on_host(TRIXIE, "cat /var/log/syslog* /var/log/messages* /var/log/daemon.log* "
                                                "2>/dev/null; true").stdout}
    for path in sorted(p for p in f.STATE.rglob("*") if p.is_file()):
        if path.parent.name in ("facts", "reports"):
            places[str(path)] = path.read_text(errors="replace")
    assert any("/facts/" in name for name in places), "no fact cache"
    assert any("/reports/" in name for name in places), "no report was written"
    backups = f.on_host(TRIXIE, "find / -xdev -name '*.[0-9]*.[0-9][0-9][0-9][0-9]-*@*~' -type f").stdout.split()
    assert any(b.startswith("/etc/docker/daemon.json.") for b in backups), backups
    assert any(b.startswith("/root/.docker/config.json.") for b in backups), backups
    for backup in backups:
        places[f"{TRIXIE}:{backup}"] = f.on_host(TRIXIE, f"cat '{backup}'").stdout
        if "/.docker/" in backup:
            assert f.on_host(TRIXIE, f"stat -c %a '{backup}'").stdout.strip() == "600", backup
    leaks = [(where, name) for where, text in places.items() for name, value in sentinels.items() if value in text]
    f.SECRETS_FOUND.extend(leaks)
    f.SECRETS_CHECKED.extend(places)
    assert leaks == [], f"secrets leaked: {leaks}"


# ---------------------------------------------------------------- 1. the registry stops mid-pull
def test_registry_stops_mid_pull_then_a_rerun_pulls_only_the_missing_images(fleet, request):
    host = fleet.bookworm()
    names = ["present", "small", "big-a", "big-b"]
    present_id = image_id(host, f.flaky("present"))
    assert present_id and not image_id(host, f.flaky("small"))
    run = f.start(IMAGES, host, {"docker_images_required": [f.flaky(n) for n in names]})
    f.wait_until(lambda: image_id(host, f.flaky("small")), 60, "the small image")
    f.wait_for_download(run=run)
    f.registry_down()
    fault(request, "registry killed mid-pull")
    try:
        failed = f.finish(run)
    finally:
        f.registry_up()
    result = assert_module_failure(failed, PULL, host, "Failed to pull 2 of 4 images", f.flaky("big-a"),
                                   f.flaky("big-b"))
    assert result["failed_images"] == [f.flaky("big-a"), f.flaky("big-b")]
    images = {image["familiar"]: image for image in result["images"]}
    assert [images[f.flaky(n)]["action"] for n in names] == ["unchanged", "pulled", "failed", "failed"]
    assert [images[f.flaky(n)]["attempts"] for n in ("big-a", "big-b")] == [3, 3]  # retries: 2
    assert image_id(host, f.flaky("present")) == present_id and image_id(host, f.flaky("small"))
    assert not image_id(host, f.flaky("big-a")) and not image_id(host, f.flaky("big-b"))

    rerun = f.play(IMAGES, host, {"docker_images_required": [f.flaky(n) for n in names]})
    assert rerun.rc == 0, rerun.failures()
    images = {image["familiar"]: image["action"] for image in rerun.result(PULL, host)["images"]}
    assert images == {f.flaky("present"): "unchanged", f.flaky("small"): "unchanged", f.flaky("big-a"): "pulled",
                      f.flaky("big-b"): "pulled"}


# ---------------------------------------------------------------- 2. dockerd stopped or restarted mid-pull
def test_dockerd_stopped_mid_pull_fails_clearly_and_the_role_brings_it_back(fleet, request):
    host = fleet.bookworm()
    wanted = {"docker_images_required": [f.flaky("present"), f.flaky("big-c")]}
    run = f.start(IMAGES, host, wanted)
    f.wait_for_download(run=run)
    f.on_host(host, "systemctl stop docker.socket docker.service")
    fault(request, "dockerd stopped mid-pull")
    result = assert_module_failure(f.finish(run), PULL, host, f.flaky("big-c"), "Docker daemon")
    assert result["failed_images"] == [f.flaky("big-c")]
    assert f.on_host(host, "systemctl is-active docker", check=False).stdout.strip() != "active"

    converge = f.play(ENGINE_ROLE, host)  # fleetops.docker.docker_engine alone
    assert converge.rc == 0, converge.failures()
    assert f.on_host(host, "systemctl is-active docker").stdout.strip() == "active"
    assert image_id(host, f.flaky("present")), "the images present before the fault are gone"


def test_dockerd_restarted_mid_pull_never_crashes_the_task(fleet, request):
    host = fleet.bookworm()
    wanted = {"docker_images_required": [f.flaky("present"), f.flaky("big-e")]}
    run = f.start(IMAGES, host, wanted)
    f.wait_for_download(run=run)
    # The tests before this one started docker.service several times within a minute: systemd's start-rate limit
    # (StartLimitBurst) would refuse this restart, which is not the fault under test.
    f.on_host(host, "systemctl reset-failed docker.service; systemctl restart docker")
    fault(request, "dockerd restarted mid-pull")
    interrupted = f.finish(run)
    assert "Traceback" not in interrupted.out
    if interrupted.rc != 0:  # the restart broke the pull: a clear failure naming the image
        assert_module_failure(interrupted, PULL, host, f.flaky("big-e"))
    rerun = f.play(IMAGES, host, wanted)
    assert rerun.rc == 0, rerun.failures()
    assert image_id(host, f.flaky("big-e")) and image_id(host, f.flaky("present"))


# ---------------------------------------------------------------- 6. the apt lock held by another process
def hold_apt_lock(host, seconds):
    f.on_host(host, "rm -f /run/flt-lock.held")
    f.docker("exec", "-d", host, "python3", "-c", HOLD_LOCK, str(seconds))
    f.wait_until(lambda: f.on_host(host, "test -e /run/flt-lock.held", check=False).returncode == 0, 30, "the lock")


def test_engine_waits_for_the_apt_lock_then_fails_clearly(fleet, request):
    host = fleet.bookworm()
    f.on_host(host, "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q pigz")
    hold_apt_lock(host, 120)
    fault(request, "dpkg frontend lock held (not released)")
    try:
        run = f.play(ENGINE_ROLE, host, {"docker_engine_lock_timeout": 6, "docker_engine_update_cache": False})
    finally:
        f.on_host(host, "kill $(cat /run/flt-lock.held)")
    assert_module_failure(run, ENGINE, host, "lock_timeout=6s", "/var/lib/dpkg/lock-frontend",
                                   "nothing was changed")
    started, ended = run.seconds(ENGINE, host)
    assert ended - started >= 6, "the engine gave up before lock_timeout"
    assert not f.on_host(host, "dpkg-query -W -f '${db:Status-Abbrev}' pigz; true").stdout.startswith("ii")


def test_engine_proceeds_once_the_apt_lock_is_released(fleet, request):
    host = fleet.bookworm()
    hold_apt_lock(host, 600)
    fault(request, "dpkg frontend lock held, released while apt-get waits")
    run = f.start(ENGINE_ROLE, host, {"docker_engine_lock_timeout": 300, "docker_engine_update_cache": False})
    try:
        f.wait_until(lambda: f.on_host(host, "pgrep -f '[a]pt-get .*DPkg::Lock::Timeout=300 .*install'",
                                       check=False).returncode == 0, 300, "apt-get waiting for the lock")
        time.sleep(2)
    finally:
        released = time.time()
        f.on_host(host, "kill $(cat /run/flt-lock.held)")
    run = f.finish(run)
    assert run.rc == 0, run.failures()
    assert run.result(ENGINE, host)["changed"]
    assert "pigz ii " in f.on_host(host, "dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' pigz").stdout
    started, ended = run.seconds(ENGINE, host)
    assert started < released < ended, "the install did not wait for the lock holder"

"""site.yml through ansible-runner's Python API: per-host status from the runner's events, the report artefacts."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import BIN, PATTERN, ROOT


def ok_tasks(events, host):
    return {e["event_data"].get("task") for e in events if e["event"] == "runner_on_ok"
            and e["event_data"].get("host") == host}


def test_every_fleet_host_completes_and_the_lost_one_is_unreachable(site_run):
    runner, events, ghost = site_run["runner"], site_run["events"], site_run["ghost"]
    # ansible-playbook's "some host was unreachable" exit code; the fleet hosts must not have failed.
    assert runner.rc == 4, runner.stdout.read() if runner.stdout else runner.rc
    stats = [e for e in events if e["event"] == "playbook_on_stats"][-1]["event_data"]
    for host in site_run["hosts"]:
        assert host in stats["ok"], stats
        assert host not in stats["failures"] and host not in stats["dark"], stats
        done = ok_tasks(events, host)
        assert "Install the Docker packages (and the ECR credential helper when asked)" in done
        assert "Pull the required images in one task" in done
        assert "Collect this host's state for the report" in done
    assert stats["dark"] == {ghost: 1}, stats
    probe = "Tell unreachable hosts from failed ones among those without a state"
    unreachable = [e["event_data"] for e in events if e["event"] == "runner_on_unreachable"]
    assert [e["host"] for e in unreachable if e["task"] != probe] == [ghost]
    # The report's probe (delegated from the first host) found the ghost unreachable too.
    (probed,) = [e for e in unreachable if e["task"] == probe]
    assert [r["fleet_report_probe_host"] for r in probed["res"]["results"] if r.get("unreachable")] == [ghost]


def test_report_artefacts_from_the_events(site_run):
    events = site_run["events"]
    (written,) = [e for e in events if e["event"] == "runner_on_ok"
                  and e["event_data"].get("task") == "Write the report (JSON, Markdown, HTML and the text table)"]
    paths = {Path(item["dest"]).suffix: Path(item["dest"]) for item in written["event_data"]["res"]["results"]}
    assert set(paths) == {".json", ".md", ".html", ".txt"}
    assert all(p.parent == site_run["reports"] and p.name.startswith("fleet-") for p in paths.values())
    report = json.loads(paths[".json"].read_text())
    status = {h["name"]: h["status"] for h in report["hosts"]}
    assert status == {**dict.fromkeys(site_run["hosts"], "ok"), site_run["ghost"]: "unreachable"}
    for host in report["hosts"]:
        if host["status"] == "ok":
            assert host["packages"] and all(p["repo"] for p in host["packages"])
            assert host["os"]["label"].startswith("Debian")
            arm64 = host["platform"].startswith("linux/arm64")
            assert host["cells"]["fleetops/arm64-only:latest"]["runs"] == ("yes" if arm64 else "NO"), host
            assert host["cells"]["busybox:latest"]["runs"] == "yes"
    (printed,) = [e for e in events if e["event"] == "runner_on_ok"
                  and e["event_data"].get("task") == "Print the fleet table"]
    table = printed["event_data"]["res"]["msg"]
    assert table == paths[".txt"].read_text().rstrip("\n")
    assert f"HTML report: {paths['.html']}" in table
    assert f"{site_run['ghost']}  " in table and "UNREACHABLE" in table


def playbook(*args, cwd=None, extra_env=None):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
               ANSIBLE_ROLES_PATH=str(ROOT / "roles"), ANSIBLE_NOCOLOR="1", **(extra_env or {}))
    return subprocess.run([str(BIN / "ansible-playbook"), *args], cwd=cwd or ROOT, env=env, capture_output=True,
                          text=True, timeout=900)


def test_report_yml_is_read_only_and_meaningful_under_check(site_run, tmp_path):
    proc = playbook("-i", str(ROOT / "inventory" / "local"), "playbooks/report.yml", "--check", "--diff",
                    "-e", f"fleet_report_dir={tmp_path}", "-e", f"fleet_hosts={PATTERN}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recap = proc.stdout[proc.stdout.index("PLAY RECAP"):]
    for host in site_run["hosts"]:
        assert f"{host}" in recap
    assert "changed=0" in recap and "changed=1" not in recap, recap
    (path,) = tmp_path.glob("fleet-*.json")
    report = json.loads(path.read_text())
    assert report["check_mode"] is True
    assert [h["name"] for h in report["hosts"]] == site_run["hosts"]
    for host in report["hosts"]:
        assert host["status"] == "ok" and host["engine_version"], host
        assert {p["action"] for p in host["packages"]} == {"none"}, host["packages"]
        assert host["cells"]["busybox:latest"]["runs"] == "yes"
        assert host["pull"] is None  # report.yml pulls nothing


def test_remove_yml_refuses_without_confirmation(tmp_path):
    (tmp_path / "ghost.yml").write_text("docker_hosts:\n  hosts:\n    fr-ghost: {ansible_host: 127.0.0.1, ansible_port: 9}\n")
    proc = playbook("-i", str(tmp_path / "ghost.yml"), "playbooks/remove.yml")
    assert proc.returncode == 2, proc.stdout
    assert "Refuse to remove Docker without confirmation" in proc.stdout
    assert "Nothing was changed. Re-run with -e fleet_remove_confirm=yes" in proc.stdout
    assert "docker_engine" not in proc.stdout.split("Refuse to remove Docker without confirmation")[1]
    # Confirmed (and a rolling batch size), it goes on to the role: the host is not there, so it is unreachable.
    proc = playbook("-i", str(tmp_path / "ghost.yml"), "playbooks/remove.yml", "-e", "fleet_remove_confirm=yes",
                    "-e", "fleet_serial=1", "-e", "fleet_max_fail_percentage=0")
    assert proc.returncode == 4 and "fleetops.docker.docker_engine" in proc.stdout, proc.stdout

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's one data structure, built once on the controller; every output format renders it."""
from __future__ import annotations

from datetime import date

DOCUMENTATION = r"""
name: fleet_report
short_description: Build the fleet report's data from every host's collected state
version_added: 1.0.0
description:
  - Turns the per-host C(fleet_report_host) facts that the fleet_report role collects into one structure that the
    role's JSON, Markdown, HTML and text templates render -- hosts (status, OS, end of support, engine packages, pull
    summary) and the hosts x images matrix (image platform, digest, registry platforms, runs here).
  - Hosts without collected state are shown as V(unreachable) or V(failed), never left out.
  - Controller-side and standard library only.
options:
  _input:
    description: One entry per host of the play, C({name, data}); C(data) is the host's C(fleet_report_host)
      fact or V(null) when the host never got that far.
    type: list
    elements: dict
    required: true
  unreachable:
    description: Host names that did not answer the report's connection probe.
    type: list
    elements: str
    default: []
  generated:
    description: When the report was made, ISO 8601 in UTC (C(2026-11-30T04:50:00Z)); end of support is judged
      against its date.
    type: str
    required: true
  end_of_support:
    description: OS releases with an end of support date, C({distribution, major_version, name, date}).
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
- name: Build the report's data
  ansible.builtin.set_fact:
    report: "{{ hosts_and_data | fleetops.docker.fleet_report(generated='2026-11-30T04:50:00Z',
                unreachable=['web-3'], end_of_support=[{'distribution': 'Amazon', 'major_version': '2',
                'name': 'Amazon Linux 2', 'date': '2026-06-30'}]) }}"
"""

RETURN = r"""
_value:
  description: The report. C(hosts) is one entry per host in play order; C(images) the matrix's columns;
    C(hosts[].cells) maps each image to C({runs, platform, digest, offers}) with C(runs) one of V(yes), V(NO),
    V(not pulled) or V(-) (the host does not need the image); C(summary) the counts a reader looks at first, its
    C(problems) one sentence per kind of problem and C(verdict) those joined.
  type: dict
"""

# The engine's package name on each OS family (AL2/AL2023, Debian/Ubuntu, Docker CE, Fedora).
ENGINE_PACKAGES = ("docker", "docker.io", "docker-ce", "moby-engine")
RUNS_YES = "yes"
RUNS_NO = "NO"
RUNS_MISSING = "not pulled"
RUNS_NA = "-"  # the host does not need the image


def _short_digest(value):
    """sha256:0123456789ab... -> sha256:0123456789ab (12 hex digits, as docker prints IDs)."""
    return value.split(":", 1)[0] + ":" + value.split(":", 1)[1][:12] if value and ":" in value else (value or "")


def _image_digest(image):
    remote = image.get("remote") or {}
    if remote.get("digest"):
        return remote["digest"]
    for repo_digest in image.get("repo_digests") or []:
        return repo_digest.rpartition("@")[2]
    return image.get("id") or ""


def _cell(image):
    remote = image.get("remote") or {}
    if image.get("present"):
        runs = RUNS_YES if image.get("compatible") else RUNS_NO
    else:  # not pulled: NO when the registry offers nothing this host runs (image_pull's platform guard skipped it)
        runs = RUNS_NO if remote.get("offers_host_platform") is False else RUNS_MISSING
    digest = _image_digest(image)
    return {"runs": runs, "present": bool(image.get("present")), "platform": image.get("platform") or "",
            "digest": digest,
            "digest_short": _short_digest(digest), "offers": list(remote.get("platforms") or []),
            "offers_host_platform": remote.get("offers_host_platform"), "remote_error": remote.get("error")}


def _os(facts, on, end_of_support):
    """The host's OS label and, when its release has an end of support date, whether the report date is past it."""
    if not facts or not facts.get("distribution"):
        return {"label": "unknown", "distribution": None, "version": None, "eol": None}
    distribution, major = facts["distribution"], str(facts.get("distribution_major_version") or "")
    label = "{} {}".format(distribution, facts.get("distribution_version") or major).strip()
    for entry in end_of_support:
        if entry.get("distribution") == distribution and str(entry.get("major_version")) == major:
            ends = date.fromisoformat(str(entry["date"]))
            past = on >= ends
            label = entry.get("name") or label
            return {"label": "{} ({})".format(label, facts.get("distribution_version") or major),
                    "distribution": distribution, "version": facts.get("distribution_version"),
                    "eol": {"date": ends.isoformat(), "past": past,
                            "note": ("past end of support since " if past else "end of support on ") + ends.isoformat()}}
    return {"label": label, "distribution": distribution, "version": facts.get("distribution_version"), "eol": None}


def _packages(records):
    rows = []
    for record in records or []:
        version = record.get("version") or ""
        if record.get("release"):
            version += "-" + record["release"]
        if record.get("epoch") not in (None, "", "0"):
            version = record["epoch"] + ":" + version
        rows.append({"name": record.get("name"), "version": version or None, "repo": record.get("repo"),
                     "action": record.get("action") or "none"})
    return rows


def _host(entry, unreachable, on, end_of_support, images):
    data = entry.get("data") or {}
    facts = data.get("os") or entry.get("facts") or {}
    report = data.get("images") or {}
    host = {"name": entry["name"], "os": _os(facts, on, end_of_support),
            "platform": report.get("host_platform") or "", "arch": facts.get("architecture") or "",
            "packages": _packages(data.get("packages")), "backend": data.get("backend"), "engine_version": None,
            "pull": data.get("pull"), "check_mode": bool(data.get("check_mode")), "cells": {}, "cannot_run": []}
    for package in host["packages"]:
        if package["name"] in ENGINE_PACKAGES and package["action"] != "remove":
            host["engine_version"] = package["version"]
    if entry["name"] in unreachable:
        host.update(status="unreachable", message="did not answer over its connection; no state collected")
    elif not data:
        host.update(status="failed", message="failed before the report could collect its state (see the run's output)")
    else:
        host.update(status="ok", message="")
    for name, image in sorted((report.get("images") or {}).items()):
        host["cells"][name] = _cell(image)
        images.setdefault(name, None)
        if host["cells"][name]["runs"] == RUNS_NO:
            host["cannot_run"].append(name)
    return host


def fleet_report(entries, generated, unreachable=None, end_of_support=None):
    unreachable = set(unreachable or [])
    on = date.fromisoformat(str(generated)[:10])
    images = {}
    hosts = [_host(entry, unreachable, on, end_of_support or [], images) for entry in entries]
    columns = sorted(images)
    for host in hosts:
        if host["status"] == "ok":
            for name in columns:
                host["cells"].setdefault(name, {"runs": RUNS_NA, "present": False, "platform": "", "digest": "",
                                                "digest_short": "",
                                                "offers": [], "offers_host_platform": None, "remote_error": None})
    counts = {status: sum(1 for h in hosts if h["status"] == status) for status in ("ok", "unreachable", "failed")}
    cells_no = sum(len(h["cannot_run"]) for h in hosts)
    past_eol = [h["name"] for h in hosts if h["os"]["eol"] and h["os"]["eol"]["past"]]
    problems = []
    if counts["unreachable"] or counts["failed"]:
        problems.append("{} of {} host(s) not reported: {}".format(
            counts["unreachable"] + counts["failed"], len(hosts),
            ", ".join("{} ({})".format(h["name"], h["status"]) for h in hosts if h["status"] != "ok")))
    if cells_no:
        problems.append("{} image(s) cannot run where they are: {}".format(cells_no, "; ".join(
            "{}: {}".format(h["name"], ", ".join(h["cannot_run"])) for h in hosts if h["cannot_run"])))
    if past_eol:
        problems.append("{} host(s) past OS end of support: {}".format(len(past_eol), ", ".join(past_eol)))
    return {
        "generated": generated,
        "check_mode": any(h["check_mode"] for h in hosts),
        "images": columns,
        "hosts": hosts,
        "summary": {"hosts": len(hosts), "ok": counts["ok"], "unreachable": counts["unreachable"],
                    "failed": counts["failed"], "images": len(columns), "cannot_run": cells_no,
                    "past_end_of_support": past_eol, "problems": problems,
                    "verdict": "; ".join(problems) if problems else "every host reported; every image runs on its host"},
    }


class FilterModule:
    def filters(self):
        return {"fleet_report": fleet_report}

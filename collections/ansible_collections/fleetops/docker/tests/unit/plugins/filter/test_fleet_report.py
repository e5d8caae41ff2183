"""fleet_report filter: one structure for every report format, built from the hosts' collected state.

Inputs are shaped like the role's fleet_report_host facts; the image entries are image_facts results as returned
against the local fleet (SYNTHETIC digests)."""
from __future__ import annotations

import pytest
from ansible_collections.fleetops.docker.plugins.filter.fleet_report import FilterModule

fleet_report = FilterModule().filters()["fleet_report"]

EOS = [{"distribution": "Amazon", "major_version": "2", "name": "Amazon Linux 2", "date": "2026-06-30"}]
DIGEST = "sha256:" + "ab" * 32


def image(platform, compatible=True, present=True, offers=("linux/amd64", "linux/arm64/v8")):
    return {"present": present, "platform": platform if present else None, "compatible": compatible,
            "id": "sha256:" + "cd" * 32, "repo_digests": ["x@" + DIGEST],
            "remote": {"digest": DIGEST, "platforms": list(offers), "offers_host_platform": True, "error": None}}


def host(name, os, images, packages=None, pull=None):
    return {"name": name, "data": {
        "os": os, "backend": "apt", "check_mode": False,
        "packages": packages or [{"name": "docker.io", "epoch": "0", "version": "20.10.24+dfsg1", "release": "1+b3",
                                  "arch": "amd64", "repo": "@bookworm/main", "action": "none"}],
        "images": {"host_platform": "linux/amd64", "images": images}, "pull": pull}}


DEBIAN = {"distribution": "Debian", "distribution_version": "12.12", "distribution_major_version": "12",
          "architecture": "x86_64"}
AL2 = {"distribution": "Amazon", "distribution_version": "2", "distribution_major_version": "2",
       "architecture": "aarch64"}
AL2023 = {"distribution": "Amazon", "distribution_version": "2023", "distribution_major_version": "2023"}


def test_matrix_marks_no_yes_and_not_pulled_and_fills_images_a_host_does_not_need():
    report = fleet_report([
        host("h1", DEBIAN, {"busybox:latest": image("linux/amd64"),
                            "fleetops/arm64-only:latest": image("linux/arm64/v8", compatible=False)}),
        host("h2", DEBIAN, {"alpine:latest": image(None, present=False)}),
    ], generated="2026-11-30T04:50:00Z")
    assert report["images"] == ["alpine:latest", "busybox:latest", "fleetops/arm64-only:latest"]
    h1, h2 = report["hosts"]
    assert h1["cells"]["fleetops/arm64-only:latest"]["runs"] == "NO"
    assert h1["cells"]["busybox:latest"]["runs"] == "yes"
    assert h1["cells"]["alpine:latest"]["runs"] == "-"
    assert h2["cells"]["alpine:latest"]["runs"] == "not pulled"
    assert h1["cannot_run"] == ["fleetops/arm64-only:latest"] and h2["cannot_run"] == []
    cell = h1["cells"]["busybox:latest"]
    assert cell["digest"] == DIGEST and cell["digest_short"] == "sha256:" + "ab" * 6
    assert cell["offers"] == ["linux/amd64", "linux/arm64/v8"] and cell["platform"] == "linux/amd64"
    assert report["summary"]["cannot_run"] == 1
    assert "h1: fleetops/arm64-only:latest" in report["summary"]["verdict"]


def test_an_image_not_pulled_because_no_offered_platform_runs_here_is_a_no():
    skipped = image(None, present=False, offers=("linux/arm64/v8",))
    skipped["remote"]["offers_host_platform"] = False
    unknown = image(None, present=False)
    unknown["remote"] = None
    (h1,) = fleet_report([host("h1", DEBIAN, {"fleetops/arm64-only:latest": skipped, "alpine:latest": unknown})],
                         generated="2026-11-30T04:50:00Z")["hosts"]
    assert h1["cells"]["fleetops/arm64-only:latest"]["runs"] == "NO"
    assert h1["cells"]["fleetops/arm64-only:latest"]["present"] is False
    assert h1["cells"]["alpine:latest"]["runs"] == "not pulled"
    assert h1["cannot_run"] == ["fleetops/arm64-only:latest"]


def test_unreachable_and_failed_hosts_are_listed_never_dropped():
    report = fleet_report([
        host("ok1", DEBIAN, {"busybox:latest": image("linux/amd64")}),
        {"name": "gone", "data": None, "facts": DEBIAN},
        {"name": "broken", "data": None},
    ], generated="2026-11-30T04:50:00Z", unreachable=["gone"])
    assert [(h["name"], h["status"]) for h in report["hosts"]] == [
        ("ok1", "ok"), ("gone", "unreachable"), ("broken", "failed")]
    gone = report["hosts"][1]
    assert gone["os"]["label"] == "Debian 12.12"  # from the facts cache
    assert gone["cells"] == {}
    summary = report["summary"]
    assert (summary["hosts"], summary["ok"], summary["unreachable"], summary["failed"]) == (3, 1, 1, 1)
    assert summary["problems"] == ["2 of 3 host(s) not reported: gone (unreachable), broken (failed)"]
    assert summary["verdict"] == summary["problems"][0]


@pytest.mark.parametrize("generated, past, note", [
    ("2026-11-30T00:00:00Z", True, "past end of support since 2026-06-30"),
    ("2026-06-30T00:00:00Z", True, "past end of support since 2026-06-30"),
    ("2026-06-29T23:59:59Z", False, "end of support on 2026-06-30"),
])
def test_amazon_linux_2_end_of_support_is_judged_on_the_report_date(generated, past, note):
    report = fleet_report([host("al2", AL2, {}), host("al2023", AL2023, {})], generated=generated,
                          end_of_support=EOS)
    al2, al2023 = report["hosts"]
    assert al2["os"]["eol"] == {"date": "2026-06-30", "past": past, "note": note}
    assert al2["os"]["label"] == "Amazon Linux 2 (2)"
    assert al2023["os"]["eol"] is None and al2023["os"]["label"] == "Amazon 2023"
    assert report["summary"]["past_end_of_support"] == (["al2"] if past else [])


def test_engine_packages_with_epoch_release_and_repo():
    packages = [
        {"name": "docker", "epoch": "0", "version": "25.0.8", "release": "1.amzn2.0.4", "repo": "@amzn2extra-docker",
         "action": "none"},
        {"name": "containerd", "epoch": "1", "version": "2.0.5", "release": "1.amzn2", "repo": "amzn2extra-docker",
         "action": "install"},
    ]
    (al2,) = fleet_report([host("al2", AL2, {}, packages=packages, pull={"pulled": 1})],
                          generated="2026-11-30T00:00:00Z")["hosts"]
    assert al2["engine_version"] == "25.0.8-1.amzn2.0.4"
    assert al2["packages"][1] == {"name": "containerd", "version": "1:2.0.5-1.amzn2", "repo": "amzn2extra-docker",
                                  "action": "install"}
    assert al2["pull"] == {"pulled": 1}


def test_a_clean_fleet_says_so():
    report = fleet_report([host("h1", DEBIAN, {"busybox:latest": image("linux/amd64")})],
                          generated="2026-11-30T00:00:00Z", end_of_support=EOS)
    assert report["summary"]["verdict"] == "every host reported; every image runs on its host"
    assert report["summary"]["problems"] == []
    assert report["check_mode"] is False

"""fleet_readiness filter: per architecture in the fleet, which images could move to the other architecture.

Inputs are shaped like the fleet_report role's entries; the image entries carry image_facts' remote data as it
answers against the local fleet's registry stand-in (SYNTHETIC hosts, REAL platform lists of the fixtures)."""
from __future__ import annotations

from ansible_collections.fleetops.docker.plugins.filter.fleet_readiness import FilterModule

fleet_readiness = FilterModule().filters()["fleet_readiness"]

QUAY = "quay.io/centos7/httpd-24-centos7:latest"
OFFERS = {  # what the registry stand-in offers (tests/fleet/fixtures.py CATALOGUE)
    "busybox:latest": ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"],
    "alpine:latest": ["linux/amd64", "linux/arm64/v8"],
    QUAY: ["linux/amd64"],
    "fleetops/arm64-only:latest": ["linux/arm64/v8"],
    "fleetops/armhf-tool:1": ["linux/arm/v7"],
}


def remote(name):
    offers = OFFERS[name]
    return {"platforms": offers, "architectures": sorted({p.split("/")[1] for p in offers}),
            "runs_on": {"linux/amd64": "linux/amd64" in offers, "linux/arm64/v8": "linux/arm64/v8" in offers},
            "error": None}


def host(name, platform, images, broken=()):
    facts = {}
    for image in images:
        facts[image] = {"present": True, "remote": remote(image)}
        if image in broken:
            facts[image]["remote"] = {"platforms": [], "architectures": [], "runs_on": {}, "error": "unreachable"}
    return {"name": name, "data": {"images": {"host_platform": platform, "images": facts}}}


def test_x86_64_hosts_and_what_blocks_arm64():
    images = ["busybox:latest", "alpine:latest", QUAY, "fleetops/armhf-tool:1", "fleetops/arm64-only:latest"]
    entries = [host("a1", "linux/amd64", images), host("a2", "linux/amd64", images[:2]),
               host("g1", "linux/arm64/v8", ["busybox:latest", "fleetops/arm64-only:latest"])]

    result = fleet_readiness(entries)

    amd, arm = result["architectures"]
    assert (amd["architecture"], amd["label"], amd["hosts"]) == ("amd64", "x86_64", ["a1", "a2"])
    assert amd["targets"] == [{
        "architecture": "arm64", "platform": "linux/arm64/v8",
        "ready": ["alpine:latest", "busybox:latest", "fleetops/arm64-only:latest"],
        "blocked": [{"image": "fleetops/armhf-tool:1", "offers": ["linux/arm/v7"], "reason": "arm only"},
                    {"image": QUAY, "offers": ["linux/amd64"], "reason": "amd64 only"}],
        "unknown": []}]
    assert arm["targets"][0]["blocked"] == [{"image": "fleetops/arm64-only:latest", "offers": ["linux/arm64/v8"],
                                             "reason": "arm64 only"}]
    assert result["summary"] == [
        "x86_64 hosts run 5 images; 3 are ready for arm64; blocked: fleetops/armhf-tool:1 (arm only), "
        f"{QUAY} (amd64 only)",
        "arm64 hosts run 2 images; 1 is ready for amd64; blocked: fleetops/arm64-only:latest (arm64 only)"]


def test_images_the_hosts_of_an_architecture_do_not_have_are_not_counted_but_named():
    entry = host("g1", "linux/arm64/v8", ["busybox:latest", QUAY])
    entry["data"]["images"]["images"][QUAY]["present"] = False  # the platform guard skipped it

    result = fleet_readiness([entry])

    assert result["architectures"][0]["images"] == ["busybox:latest"]
    assert result["architectures"][0]["not_pulled"] == [QUAY]
    assert result["summary"] == [f"arm64 hosts run 1 image; 1 is ready for amd64; not pulled on these hosts: {QUAY}"]


def test_an_unanswered_registry_is_unknown_not_ready_unless_another_host_got_the_answer():
    only_broken = fleet_readiness([host("a1", "linux/amd64", ["busybox:latest", QUAY], broken=[QUAY])])
    answered_elsewhere = fleet_readiness([host("a1", "linux/amd64", [QUAY], broken=[QUAY]),
                                          host("a2", "linux/amd64", [QUAY])])

    target = only_broken["architectures"][0]["targets"][0]
    assert (target["ready"], target["blocked"], target["unknown"]) == (["busybox:latest"], [], [QUAY])
    assert only_broken["summary"] == [f"x86_64 hosts run 2 images; 1 is ready for arm64; unknown (no registry "
                                      f"answer): {QUAY}"]
    assert answered_elsewhere["architectures"][0]["targets"][0]["blocked"][0]["image"] == QUAY


def test_without_remote_facts_it_says_so_and_hosts_without_state_are_left_out():
    entries = [{"name": "a1", "data": {"images": {"host_platform": "linux/amd64",
                                                  "images": {"busybox:latest": {"present": True}}}}},
               {"name": "down", "data": None}]

    result = fleet_readiness(entries)

    assert result["architectures"][0]["hosts"] == ["a1"]
    assert result["architectures"][0]["targets"] == []
    assert result["summary"][0].startswith("readiness unknown: no registry platforms were gathered")

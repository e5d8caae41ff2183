# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Architecture readiness of the fleet's images: which could move to the other architecture today."""
from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_readiness
short_description: Which of the fleet's images each architecture in the fleet could move to
version_added: 1.1.0
description:
  - For each architecture present in the fleet, the images its hosts run and, for every other architecture that
    M(fleetops.docker.image_facts) judged (its C(remote.runs_on), O(fleetops.docker.image_facts#module:readiness_platforms)),
    how many of them the registry offers a variant for (ready) and which not (blocked, with what the registry offers).
  - Images whose registry did not answer (or remote facts were not gathered) are V(unknown), never counted as ready.
  - Controller-side and standard library only; the fleet report renders it in JSON, Markdown and HTML.
options:
  _input:
    description: One entry per host, C({name, data}) as the fleet_report role collects them; C(data.images) is the
      host's C(docker_images_report) (C(host_platform) and C(images), the image facts with C(remote=true)).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Arm64 readiness of the images the x86_64 hosts run
  ansible.builtin.debug:
    msg: "{{ (entries | fleetops.docker.fleet_readiness).summary }}"
"""

RETURN = r"""
_value:
  description:
    - >-
      C(architectures) one entry per architecture present in the fleet C({architecture, label, hosts, images,
      not_pulled, targets}) (C(images) are present on at least one of its hosts, C(not_pulled) required but on
      none), C(targets) one per other judged architecture C({architecture, platform, ready, blocked, unknown}),
      C(blocked) a list of C({image, offers, reason}).
    - >-
      C(summary) one sentence per architecture and target, such as C(x86_64 hosts run 5 images; 4 are ready for
      arm64; blocked: quay.io/centos7/httpd-24-centos7:latest (amd64 only)).
  type: dict
"""

# How operators name the hosts of an architecture (uname -m), and the architecture of a platform string.
HOST_LABELS = {"amd64": "x86_64", "arm64": "arm64", "386": "i386", "arm": "arm"}


def _architecture(platform):
    parts = (platform or "").split("/")
    return parts[1] if len(parts) > 1 else ""


def _reason(remote):
    architectures = remote.get("architectures") or sorted({_architecture(p) for p in remote.get("platforms") or []})
    if len(architectures) == 1:
        return f"{architectures[0]} only"
    return "offers " + ", ".join(remote.get("platforms") or []) if remote.get("platforms") else "offers nothing"


def fleet_readiness(entries):
    by_arch = {}  # architecture -> {"hosts": set, "images": {name: remote}}
    for entry in entries or []:
        report = (entry.get("data") or {}).get("images") or {}
        arch = _architecture(report.get("host_platform"))
        if not arch:
            continue
        group = by_arch.setdefault(arch, {"hosts": set(), "images": {}, "absent": set()})
        group["hosts"].add(entry["name"])
        for name, image in (report.get("images") or {}).items():
            if not image.get("present"):  # required but not pulled here (e.g. the platform guard skipped it)
                group["absent"].add(name)
                continue
            remote = image.get("remote") or {}
            if group["images"].get(name, {}).get("runs_on") and not remote.get("runs_on"):
                continue  # keep the answer of a host whose registry query succeeded
            group["images"][name] = remote
    judged = {}  # architecture -> the platform image_facts judged it as (linux/arm64/v8)
    for group in by_arch.values():
        for remote in group["images"].values():
            for platform in remote.get("runs_on") or {}:
                judged.setdefault(_architecture(platform), platform)
    architectures, summary = [], []
    for arch in sorted(by_arch):
        group, label = by_arch[arch], HOST_LABELS.get(arch, arch)
        absent = sorted(group["absent"] - set(group["images"]))
        targets = []
        for target in sorted(a for a in judged if a != arch):
            platform, ready, blocked, unknown = judged[target], [], [], []
            for name in sorted(group["images"]):
                remote = group["images"][name]
                verdict = (remote.get("runs_on") or {}).get(platform)
                if verdict is None:
                    unknown.append(name)
                elif verdict:
                    ready.append(name)
                else:
                    blocked.append({"image": name, "offers": list(remote.get("platforms") or []),
                                    "reason": _reason(remote)})
            targets.append({"architecture": target, "platform": platform, "ready": ready, "blocked": blocked,
                            "unknown": unknown})
            count = len(group["images"])
            sentence = (f"{label} hosts run {count} image{'s' if count != 1 else ''}; {len(ready)} "
                        f"{'is' if len(ready) == 1 else 'are'} ready for {target}")
            if blocked:
                sentence += "; blocked: " + ", ".join(f"{b['image']} ({b['reason']})" for b in blocked)
            if unknown:
                sentence += "; unknown (no registry answer): " + ", ".join(unknown)
            if absent:
                sentence += "; not pulled on these hosts: " + ", ".join(absent)
            summary.append(sentence)
        architectures.append({"architecture": arch, "label": label, "hosts": sorted(group["hosts"]),
                              "images": sorted(group["images"]), "not_pulled": absent, "targets": targets})
    if by_arch and not judged:
        summary.append("readiness unknown: no registry platforms were gathered (image_facts remote=true, "
                       "docker_images_remote_facts)")
    return {"architectures": architectures, "summary": summary}


class FilterModule:
    def filters(self):
        return {"fleet_readiness": fleet_readiness}

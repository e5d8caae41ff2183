"""The RPM repository stand-in: Amazon's NEVRAs and repository ids (repo/rpm/stack.json), Debian's binaries inside.

Built offline with rpmbuild and createrepo_c from the Debian packages of the stack (apt-get download), one
directory per repository id, cached under a hash of the recipe. fleet.py serves it over HTTP on the fleet network.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

RECIPE = Path(__file__).resolve().parent / "repo" / "rpm"
STACK = json.loads((RECIPE / "stack.json").read_text())
TOOLS = {"rpmbuild": "rpm", "createrepo_c": "createrepo-c", "dpkg-deb": "dpkg"}

SPEC = """\
%global debug_package %{{nil}}
%global __os_install_post %{{nil}}
%global _binary_payload w3.zstdio
Name: {name}
Version: {version}
Release: {release}
Summary: {name} for the fleetops test fleet (stand-in: Debian bookworm's {carries})
License: see the Debian packages
URL: https://github.com/fleetops/docker
BuildArch: x86_64
AutoReqProv: no
{requires}
%description
Stand-in for Amazon's {name}-{version}-{release}: carries Debian bookworm's {carries}.

%install
cp -a {payload}/. %{{buildroot}}/

%files
{files}
{scripts}
"""
# Lua scriptlets: rpm runs them itself, so the packages need no /bin/sh from the (empty) rpm database.
GROUP_SCRIPT = """
%pre -p <lua>
if not posix.getgroup("docker") then rpm.execute("/usr/sbin/groupadd", "-r", "docker") end
"""
UNIT_SCRIPTS = """
%post -p <lua>
rpm.execute("/bin/systemctl", "daemon-reload")

%preun -p <lua>
if arg[2] == 0 then rpm.execute("/bin/systemctl", "--no-reload", "disable", "--now", {units}) end

%postun -p <lua>
rpm.execute("/bin/systemctl", "daemon-reload")
"""


def recipe_hash(mirror):
    digest = hashlib.sha256(mirror.encode())
    for path in sorted(p for p in RECIPE.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(RECIPE)).encode() + path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:12]


def missing_tools():
    return sorted({package for tool, package in TOOLS.items() if not shutil.which(tool)})


def run(*args, cwd=None):
    proc = subprocess.run(args, cwd=cwd, text=True, capture_output=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def deb_versions(debs):
    """{Debian package: version} of the .deb files in `debs`."""
    return {run("dpkg-deb", "-f", str(deb), "Package").strip(): run("dpkg-deb", "-f", str(deb), "Version").strip()
            for deb in debs.glob("*.deb")}


def payload(name, debs, versions, root):
    """Lay out the files of `name` under root; returns (the RPM's file list, what it carries)."""
    spec = STACK["payloads"][name]
    files, carries = [], []
    for deb, mapping in ((k, v) for k, v in spec.items() if isinstance(v, dict)):
        extracted = debs / deb
        if not extracted.exists():
            run("dpkg-deb", "-x", str(next(debs.glob(f"{deb}_*.deb"))), str(extracted))
        for source, target in mapping.items():
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(extracted / source, root / target, follow_symlinks=False)
            files.append("/" + target)
        carries.append(f"{deb} {versions[deb]}")
    for unit in spec.get("units", []):
        target = root / "usr/lib/systemd/system" / unit
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(RECIPE / "units" / unit, target)
        files.append(f"/usr/lib/systemd/system/{unit}")
    return files, ", ".join(carries)


def build_rpm(entry, debs, versions, work):
    name = entry["name"]
    nvr = f"{name}-{entry['version']}-{entry['release']}"
    root = work / "payload" / nvr
    files, carries = payload(name, debs, versions, root)
    spec = STACK["payloads"][name]
    scripts = GROUP_SCRIPT if spec.get("docker_group") else ""
    if spec.get("units"):
        scripts += UNIT_SCRIPTS.format(units=", ".join(f'"{u}"' for u in spec["units"]))
    text = SPEC.format(name=name, version=entry["version"], release=entry["release"], carries=carries,
                       requires="".join(f"Requires: {r}\n" for r in entry.get("requires", [])),
                       payload=root, files="\n".join(files), scripts=scripts)
    spec_path = work / "specs" / f"{nvr}.spec"
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(text)
    run("rpmbuild", "--quiet", "-bb", "--define", f"_topdir {work / 'rpmbuild'}", str(spec_path))
    return nvr, carries


def build(dest, apt_env=None):
    """Build every repository of stack.json under dest/<repo id>/ and write dest/CARRIES.json; returns it."""
    work = Path(tempfile.mkdtemp(prefix="rpmrepo-", dir=dest.parent))
    try:
        debs = work / "debs"
        debs.mkdir()
        subprocess.run(["apt-get", "download", *STACK["debs"]], cwd=debs, env=apt_env, check=True,
                       capture_output=True)
        versions = deb_versions(debs)
        carries = {}
        for repo, entries in STACK["repos"].items():
            for entry in entries:
                nvr, what = build_rpm(entry, debs, versions, work)
                carries[f"{nvr}.x86_64"] = {"repo": repo, "carries": what}
            target = work / "out" / repo
            target.mkdir(parents=True)
            for entry in entries:
                nvr = f"{entry['name']}-{entry['version']}-{entry['release']}.x86_64.rpm"
                shutil.move(str(work / "rpmbuild" / "RPMS" / "x86_64" / nvr), target / nvr)
            run("createrepo_c", "--quiet", str(target))
        (work / "out" / "CARRIES.json").write_text(json.dumps(carries, indent=2) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(work / "out"), dest)
        return carries
    finally:
        shutil.rmtree(work, ignore_errors=True)

"""The bench images: real files of Debian 12 (amd64) packages in layers of realistic size, pushed under bench/.

STAND-INS, not the images they are named after:
- `quay.io/bench/httpd-24-centos7` has the shape of quay.io/centos7/httpd-24-centos7 (a base OS layer, an s2i layer
  with perl, python, git and vim's runtime files, the httpd layer, a configuration layer; about 300 MB unpacked), but its files come
  from Debian packages;
- `bench/redis-tools`, `bench/python`, `bench/ruby`, `bench/node`, `bench/gcc` (5 to 80 MB) hold the files of the
  Debian packages of those names;
- `bench/facts-01` .. `bench/facts-50` are one small file each: fifty distinct local images for the facts bench.

Real binaries, libraries and data give real compression ratios. Layers are reproducible: members in package order,
root-owned, fixed mtimes, gzip mtime 0, so the same .deb files always give the same digests. The .debs come from
Debian's archive once (`apt-get download`, or apt's own cache), then builds run offline from
.fleet/cache/bench/, keyed by the recipe and the exact package versions, like the host images.

The registry stores each image under its path (bench/...): dockerd reaches `quay.io/...` through the quay.io network
alias and `bench/...` (docker.io names) through the registry mirror.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fleet"))
import fixtures  # noqa: E402  tests/fleet/fixtures.py: the registry push protocol and reproducible tiny layers

CACHE = ROOT / ".fleet" / "cache" / "bench"
APT_ARCHIVES = Path("/var/cache/apt/archives")
MTIME = fixtures.MTIME

_BASE_OS = ["libc6", "coreutils", "bash", "perl-base", "tar", "gzip", "findutils", "grep", "sed", "libssl3",
            "openssl", "libsystemd-shared", "systemd", "util-linux", "tzdata", "locales", "libicu72",
            "libsqlite3-0", "libxml2", "procps", "iproute2", "ca-certificates", "libkrb5-3", "libgnutls30",
            "libglib2.0-0", "libglib2.0-data"]
_S2I = ["perl-modules-5.36", "libperl5.36", "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib",
        "git", "vim-runtime"]
_HTTPD = ["apache2-bin", "apache2-data", "apache2-utils", "libapr1", "libaprutil1", "curl", "libcurl4"]
_HTTPD_CONFIG = {"etc/httpd/conf/httpd.conf": "# bench stand-in for quay.io/centos7/httpd-24-centos7\nListen 8080\n",
                 "var/www/html/index.html": "<h1>bench stand-in</h1>\n"}

# (reference the hosts pull, repository:tag in the registry, layers: a list of Debian packages or {path: text}).
IMAGES = [
    ("quay.io/bench/httpd-24-centos7", "bench/httpd-24-centos7:latest", [_BASE_OS, _S2I, _HTTPD, _HTTPD_CONFIG]),
    ("bench/redis-tools:7", "bench/redis-tools:7", [["redis-tools", "libjemalloc2", "liblzf1", "zstd", "libzstd1"]]),
    ("bench/python:3.11", "bench/python:3.11", [["python3.11-minimal", "libpython3.11-minimal",
                                                 "libpython3.11-stdlib"]]),
    ("bench/ruby:3.1", "bench/ruby:3.1", [["ruby3.1", "libruby3.1", "libyaml-0-2"]]),
    ("bench/node:18", "bench/node:18", [["libnode108", "libuv1", "libbrotli1", "libc-ares2"]]),
    ("bench/gcc:12", "bench/gcc:12", [["gcc-12", "binutils-x86-64-linux-gnu", "libbinutils"]]),
]
FACTS_COUNT = 50
FACTS_IMAGES = [f"bench/facts-{n:02d}" for n in range(1, FACTS_COUNT + 1)]  # docker.io names, tag latest


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def references():
    return [ref for ref, _, _ in IMAGES]


# ---------------------------------------------------------------- .deb files
def deb_paths(packages):
    """{package: path of its .deb} for the archive's candidate versions, downloaded at most once."""
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    uris = _print_uris(packages)
    missing = []
    for package, (filename, sha) in uris.items():
        target = debs / filename
        if target.exists():
            continue
        cached = APT_ARCHIVES / filename
        if cached.exists() and hashlib.sha256(cached.read_bytes()).hexdigest() == sha:
            shutil.copyfile(cached, target)
        else:
            missing.append(package)
    if missing:
        log(f"downloading {len(missing)} .deb files from Debian's archive")
        subprocess.run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *missing], cwd=debs, check=True, stdout=subprocess.DEVNULL)
    return {package: debs / filename for package, (filename, _) in uris.items()}


def _print_uris(packages):
    """{package: (file name, sha256)} of the candidate versions, from apt's lists (no network)."""
    out = subprocess.run(["apt-get", "download", "--print-uris", *packages], capture_output=True, text=True)
    if out.returncode:  # lists missing or stale
        fixtures.apt_update(dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        out = subprocess.run(["apt-get", "download", "--print-uris", *packages], capture_output=True, text=True,
                             check=True)
    found = {}
    for line in out.stdout.splitlines():
        _, filename, _, checksum = line.split()
        found[filename.split("_", 1)[0]] = (filename, checksum.split(":", 1)[1])
    if set(found) != set(packages):
        raise RuntimeError(f"apt-get found no candidate for {sorted(set(packages) - set(found))}")
    return found


# ---------------------------------------------------------------- layers
class _Sink:
    """Write-through that hashes what passes (tarfile and GzipFile only call write and flush)."""

    def __init__(self, target):
        self.target, self.digest = target, hashlib.sha256()

    def write(self, data):
        self.digest.update(data)
        self.target.write(data)
        return len(data)

    def flush(self):
        self.target.flush()


def deb_layer(debs, path):
    """Write the gzipped layer of the files of `debs` (in order; the first package's copy of a path wins).

    Returns its diff_id (sha256 of the uncompressed tar)."""
    seen = set()
    with open(path, "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as packed:
            raw = _Sink(packed)
            with tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as layer:
                for deb in debs:
                    data = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
                    with tarfile.open(fileobj=data.stdout, mode="r|") as members:
                        for member in members:
                            name = member.name.lstrip("./").rstrip("/")
                            if not name or name in seen:
                                continue
                            seen.add(name)
                            member.name = name
                            if member.islnk():
                                member.linkname = member.linkname.lstrip("./")
                            member.mtime, member.uid, member.gid, member.uname, member.gname = MTIME, 0, 0, "root", "root"
                            member.pax_headers = {}
                            layer.addfile(member, members.extractfile(member) if member.isreg() else None)
                    if data.wait():
                        raise RuntimeError(f"dpkg-deb --fsys-tarfile {deb} failed")
    return "sha256:" + raw.digest.hexdigest()


def build(ref, layers):
    """The image's blobs in its cache directory (built once per recipe and package versions); returns that dir."""
    packages = sorted({p for layer in layers if isinstance(layer, list) for p in layer})
    debs = deb_paths(packages) if packages else {}
    recipe = json.dumps([ref, [layer if isinstance(layer, dict) else [debs[p].name for p in layer]
                               for layer in layers]], sort_keys=True)
    path = CACHE / "images" / hashlib.sha256(recipe.encode()).hexdigest()[:16]
    if (path / "layers.json").exists():
        return path
    started = time.monotonic()
    work = path.with_suffix(".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    entries = []
    for number, layer in enumerate(layers):
        blob = work / f"layer{number}.tar.gz"
        if isinstance(layer, dict):
            data, diff_id = fixtures.tar_layer(layer)
            blob.write_bytes(data)
        else:
            diff_id = deb_layer([debs[p] for p in layer], blob)
        entries.append({"file": blob.name, "diff_id": diff_id})
    (work / "layers.json").write_text(json.dumps(entries, indent=1) + "\n")
    shutil.rmtree(path, ignore_errors=True)
    work.rename(path)
    log(f"built {ref} in {time.monotonic() - started:.0f} s")
    return path


def push_all(url):
    """Build (or reuse) and push every bench image; returns {reference: {digest, layers, packed, unpacked}}."""
    registry = fixtures.Registry(url)
    pushed = {}
    for ref, target, layers in IMAGES:
        path = build(ref, layers)
        entries = json.loads((path / "layers.json").read_text())
        blobs = [((path / e["file"]).read_bytes(), e["diff_id"]) for e in entries]
        repo, tag = target.rsplit(":", 1)
        digest, _ = fixtures.push_image(registry, repo, fixtures.PLATFORMS["amd64"], blobs, [tag])
        pushed[ref] = {"digest": digest, "layers": len(blobs), "packed": sum(len(b) for b, _ in blobs),
                       "unpacked": sum(_tar_size(path / e["file"]) for e in entries)}
    for number, ref in enumerate(FACTS_IMAGES, 1):
        layer = fixtures.tar_layer({"etc/bench-facts": f"bench facts image {number}\n"})
        fixtures.push_image(registry, ref, fixtures.PLATFORMS["amd64"], [layer], ["latest"])
    return pushed


def _tar_size(blob):
    """Uncompressed size of a gzipped layer (gzip's ISIZE trailer: exact below 4 GiB)."""
    with open(blob, "rb") as stream:
        stream.seek(-4, os.SEEK_END)
        return int.from_bytes(stream.read(4), "little")

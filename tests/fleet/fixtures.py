"""Fixture images for the registry stand-in, built offline from Debian's busybox-static packages.

These are STAND-INS: `alpine` and `quay.io/centos7/httpd-24-centos7` hold busybox, not Alpine or CentOS. Each
architecture's layer carries the real busybox binary of that architecture, so an arm64 image really fails with
`exec format error` on an amd64 host -- unless qemu-aarch64 is registered in binfmt_misc, as the fleet does for its
emulated arm64 host (`fleet.py binfmt off` removes it). Layers are reproducible (fixed mtimes and owners, gzip mtime 0), so a given
busybox-static build always gives the same digests; `fleetops/pinned:1.0` holds no binary at all and so has one
digest forever (PINNED_DIGEST, used for digest pins in the tests).

The registry stores docker.io names under their path (library/busybox, fleetops/arm64-only) because dockerd
reaches it as a registry mirror, and quay.io names the same way (centos7/httpd-24-centos7) because dockerd reaches
it as the host `quay.io`.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

PLATFORMS = {  # Debian architecture -> OCI platform
    "amd64": {"architecture": "amd64", "os": "linux"},
    "arm64": {"architecture": "arm64", "os": "linux", "variant": "v8"},
    "armhf": {"architecture": "arm", "os": "linux", "variant": "v7"},
}
APPLETS = ["sh", "ls", "cat", "echo", "uname", "sleep", "true", "false", "env", "id", "ps", "wget", "httpd"]
CREATED = "2024-01-01T00:00:00Z"
MTIME = 1704067200

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

# (repository in the registry, tag, Debian architectures, extra layers) -- the fixture catalogue.
CATALOGUE = [
    ("library/busybox", "latest", ["amd64", "arm64", "armhf"], []),
    ("library/alpine", "latest", ["amd64", "arm64"], [{"etc/alpine-release": "fleetops stand-in\n"}]),
    ("centos7/httpd-24-centos7", "latest", ["amd64"],
     [{"etc/httpd/conf/httpd.conf": "# stand-in for quay.io/centos7/httpd-24-centos7\nListen 8080\n"},
      {"var/www/html/index.html": "<h1>fleetops stand-in</h1>\n"}]),
    ("fleetops/arm64-only", "latest", ["arm64"], []),
]
PRIVATE = ("fleetops/private", "1.0", {"etc/fleetops-private": "only for the registry's account\n"})
PINNED = ("fleetops/pinned", "1.0", {"etc/fleetops-pinned": "a fixture whose digest never changes\n"})
PINNED_DIGEST = "sha256:9e8f6b9f46ac032e154370e40789d89758309e101d36ba083bec8723be38949c"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_layer(files, links=()):
    """A reproducible gzipped tar: {path: bytes|str} files and (path, target) symlinks."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(Path(p).parents[i]) for p in list(files) + [link for link, _ in links]
                       for i in range(len(Path(p).parents) - 1)})
        for path in dirs:
            info = tarfile.TarInfo(path)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(info)
        for path in sorted(files):
            data = files[path].encode() if isinstance(files[path], str) else files[path]
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o755 if path.startswith("bin/") else 0o644, MTIME
            tar.addfile(info, io.BytesIO(data))
        for path, target in sorted(links):
            info = tarfile.TarInfo(path)
            info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, target, 0o777, MTIME
            tar.addfile(info)
    uncompressed = raw.getvalue()
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(uncompressed)
    return packed.getvalue(), sha256(uncompressed)


def busybox_binary(debian_arch, cache):
    """The busybox binary from Debian's busybox-static .deb for that architecture (downloaded once)."""
    binary = cache / f"busybox-{debian_arch}"
    if binary.exists():
        return binary.read_bytes()
    cache.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    arches = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True, text=True).stdout.split()
    native = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    if debian_arch != native and debian_arch not in arches:
        subprocess.run(["dpkg", "--add-architecture", debian_arch], check=True)
        apt_update(env)
    pkg = f"busybox-static:{debian_arch}"
    got = subprocess.run(["apt-get", "download", "-q", pkg], cwd=cache, env=env, capture_output=True, text=True)
    if got.returncode:  # the lists may be stale or missing
        apt_update(env)
        subprocess.run(["apt-get", "download", "-q", pkg], cwd=cache, env=env, check=True)
    deb = sorted(cache.glob(f"busybox-static_*_{debian_arch}.deb"))[-1]
    unpacked = cache / f"unpack-{debian_arch}"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    binary.write_bytes((unpacked / "bin" / "busybox").read_bytes())
    return binary.read_bytes()


def apt_update(env):
    """Refresh apt's lists; a partial failure (a mirror mid-sync for one index) is not fatal here."""
    subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=False)


class Registry:
    """Just enough of the registry v2 push protocol."""

    def __init__(self, url, credentials=None):
        self.url = url.rstrip("/")
        self.auth = {}
        if credentials:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            self.auth = {"Authorization": f"Basic {token}"}

    def _request(self, method, path, data=None, headers=None):
        req = urllib.request.Request(path if path.startswith("http") else self.url + path, data=data,
                                     method=method, headers=dict(self.auth, **(headers or {})))
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def push_blob(self, repo, data):
        digest = sha256(data)
        if self._request("HEAD", f"/v2/{repo}/blobs/{digest}")[0] == 200:
            return digest
        status, headers, body = self._request("POST", f"/v2/{repo}/blobs/uploads/")
        if status != 202:
            raise RuntimeError(f"upload to {repo} refused: {status} {body[:200]!r}")
        location = headers["Location"]
        location = location if location.startswith("http") else self.url + location
        sep = "&" if "?" in location else "?"
        status, _, body = self._request("PUT", f"{location}{sep}digest={digest}", data,
                                        {"Content-Type": "application/octet-stream"})
        if status != 201:
            raise RuntimeError(f"blob {digest} to {repo} refused: {status} {body[:200]!r}")
        return digest

    def push_manifest(self, repo, refs, media_type, document):
        """Push one manifest under each of `refs` (tags or its own digest); returns (digest, size)."""
        data = json.dumps(document, indent=3).encode()
        for ref in refs:
            status, _, body = self._request("PUT", f"/v2/{repo}/manifests/{ref}", data, {"Content-Type": media_type})
            if status != 201:
                raise RuntimeError(f"manifest {repo}:{ref} refused: {status} {body[:300]!r}")
        return sha256(data), len(data)


def image_manifest(platform, layers):
    """The config blob and schema2 manifest of a single-platform image made of `layers` (blob, diff_id)."""
    config = dict(platform, created=CREATED,
                  config={"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                          "Cmd": ["sh"]},
                  rootfs={"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]},
                  history=[{"created": CREATED, "created_by": "fleetops fixture layer"} for _ in layers])
    config_blob = json.dumps(config, sort_keys=True).encode()
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST,
                "config": {"mediaType": CONFIG, "size": len(config_blob), "digest": sha256(config_blob)},
                "layers": [{"mediaType": LAYER, "size": len(blob), "digest": sha256(blob)} for blob, _ in layers]}
    return config_blob, manifest


def manifest_digest(manifest):
    return sha256(json.dumps(manifest, indent=3).encode())


def push_image(registry, repo, platform, layers, tags=()):
    """Push one single-platform image by digest (and under `tags`); returns (manifest digest, size)."""
    config_blob, manifest = image_manifest(platform, layers)
    for blob in [blob for blob, _ in layers] + [config_blob]:
        registry.push_blob(repo, blob)
    return registry.push_manifest(repo, [manifest_digest(manifest), *tags], MANIFEST, manifest)


def busybox_layers(arch, extra, cache):
    base = tar_layer({"bin/busybox": busybox_binary(arch, cache)}, [(f"bin/{a}", "busybox") for a in APPLETS])
    return [base] + [tar_layer(files) for files in extra]


def push_all(url, cache):
    """Push the whole catalogue; returns {repository:tag: top-level digest}."""
    registry = Registry(url)
    digests = {}
    for repo, tag, arches, extra in CATALOGUE:
        if len(arches) == 1:  # single-platform: the tag names the image manifest itself
            digest, _ = push_image(registry, repo, PLATFORMS[arches[0]], busybox_layers(arches[0], extra, cache),
                                   [tag])
        else:
            entries = []
            for arch in arches:
                digest, size = push_image(registry, repo, PLATFORMS[arch], busybox_layers(arch, extra, cache))
                entries.append({"mediaType": MANIFEST, "size": size, "digest": digest,
                                "platform": PLATFORMS[arch]})
            index = {"schemaVersion": 2, "mediaType": MANIFEST_LIST, "manifests": entries}
            digest, _ = registry.push_manifest(repo, [tag], MANIFEST_LIST, index)
        digests[f"{repo}:{tag}"] = digest
    repo, tag, files = PINNED
    digests[f"{repo}:{tag}"] = push_image(registry, repo, PLATFORMS["amd64"], [tar_layer(files)], [tag])[0]
    if digests[f"{repo}:{tag}"] != PINNED_DIGEST:
        raise RuntimeError(f"{repo}:{tag} is no longer reproducible: {digests[f'{repo}:{tag}']} != {PINNED_DIGEST}")
    return digests


def push_private(url, credentials):
    """The private registry (basic auth) holds one image, for authenticated and unauthorized pulls."""
    repo, tag, files = PRIVATE
    digest, _ = push_image(Registry(url, credentials), repo, PLATFORMS["amd64"], [tar_layer(files)], [tag])
    return {f"private:{repo}:{tag}": digest}

"""A fake Docker Engine API for unit tests: a real HTTP/1.1 server on a UNIX socket, in a thread.

It serves the shapes of three real dockerds (SHAPES), each recorded into fixtures/ (REAL): dockerd 20.10.24
(API 1.41), and dockerd 26.1.5 (API 1.45: no VirtualSize, Container or ContainerConfig) with the classic store
or with the containerd image store. Answers use the recorded formats: /version, /images/{name}/json,
/images/json, /distribution/{name}/json, the /images/create progress stream and {"message": ...} error bodies.
Error texts are the recorded ones with names substituted; the few that could not be recorded here are marked
SYNTHETIC where they are defined.

With the containerd image store an image's ID is the digest of the registry's index (or manifest), one name
keeps every platform pulled, and inspect shows the one the host would run. The fake then also keeps the host's
containerd content store on disk (`content_root`, laid out like /var/lib/containerd, documents shaped like the
recorded ones), which is where the modules read the platforms present; start() points the modules at it.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import shutil
import socketserver
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from ansible_collections.fleetops.docker.plugins.module_utils import _image_store

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
# shape -> (fixture recorded from that dockerd, its API version, its image store)
SHAPES = {
    "20.10": ("docker_api_dockerd_20.10.json", "1.41", "classic"),
    "26.1": ("docker_api_dockerd_26.1_overlay2.json", "1.45", "classic"),
    "26.1-containerd": ("docker_api_dockerd_26.1_containerd.json", "1.45", "containerd"),
}

DOCKERD_SHAPES = tuple(SHAPES)


def load_captures(shape):
    with open(os.path.join(FIXTURES, SHAPES[shape][0])) as handle:
        return json.load(handle)


CAPTURES = load_captures("20.10")
CAPTURES_BY_SHAPE = {shape: load_captures(shape) for shape in SHAPES}


def captured(name, shape="20.10"):
    return json.loads(CAPTURES_BY_SHAPE[shape][name]["body"])


# Recorded message formats (see the fixture); {placeholders} are filled per request.
MSG_NO_SUCH_IMAGE = "no such image: {name}: No such image: {name}"
MSG_NO_SUCH_IMAGE_26 = "No such image: {name}"
MSG_PULL_MANIFEST_UNKNOWN = "manifest for {name}:{tag} not found: manifest unknown: manifest unknown"
MSG_DIST_MANIFEST_UNKNOWN = "manifest unknown: manifest unknown"
MSG_NO_CREDENTIALS = 'Head "https://{host}/v2/{path}/manifests/{tag}": no basic auth credentials'
MSG_BAD_CREDENTIALS = "unauthorized: authentication required"
MSG_CONNECTION_REFUSED = 'Get "https://{host}/v2/": dial tcp 127.0.0.1:443: connect: connection refused'
MSG_NO_SUCH_HOST = 'Get "https://{host}/v2/": dial tcp: lookup {host} on 10.255.255.53:53: no such host'
MSG_NO_MATCHING_MANIFEST = "no matching manifest for {platform} in the manifest list entries"
MSG_TOO_NEW = "client version {asked} is too new. Maximum supported API version is {max}"
# The containerd image store's wording (recorded from dockerd 26.1.5).
MSG_C8D_NOT_FOUND = 'failed to resolve reference "{ref}": {ref}: not found'
MSG_C8D_NO_PLATFORM = "no match for platform in manifest: not found"
MSG_C8D_NO_CREDENTIALS = ('failed to resolve reference "{ref}": pull access denied, repository does not exist or may '
                          "require authorization: authorization failed: no basic auth credentials")
# SYNTHETIC: Docker Hub's wording for a missing or private repository (not reachable from here).
MSG_HUB_DENIED = ("pull access denied for {familiar}, repository does not exist or may require 'docker login': "
                  "denied: requested access to the resource is denied")
# SYNTHETIC: moby's wording when a single-platform image does not match the requested platform.
MSG_PLATFORM_MISMATCH = ("image with reference {ref} was found but does not match the specified platform: "
                         "wanted {wanted}, actual: {actual}")

VERSION_TEMPLATE = captured("version")
INSPECT_TEMPLATE = captured("inspect_pinned")
LIST_TEMPLATE = captured("images_list")[0]
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_INDEX = "application/vnd.docker.distribution.manifest.list.v2+json"
HUB = "docker.io"
DEFAULT_CONTENT_ROOTS = _image_store.CONTENT_ROOTS


def sha256(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def split_name(name):
    """Minimal docker normalization for the fake (independent of the code under test)."""
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        domain, path = name.split("/", 1)
    else:
        domain, path = HUB, name
    if domain == "index.docker.io":
        domain = HUB
    if domain == HUB and "/" not in path:
        path = "library/" + path
    return domain, path


def familiar(domain, path):
    if domain != HUB:
        return domain + "/" + path
    return path[len("library/"):] if path.startswith("library/") and path.count("/") == 1 else path


def parse_ref(text):
    """'name[:tag][@digest]' -> (domain, path, tag, digest)."""
    name, _sep, digest = text.partition("@")
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    domain, path = split_name(name)
    return domain, path, tag, digest


def platform_dict(text):
    parts = text.split("/")
    entry = {"os": parts[0], "architecture": parts[1]}
    if len(parts) > 2:
        entry["variant"] = parts[2]
    return entry


def platform_text(entry):
    return "/".join(p for p in (entry.get("os"), entry.get("architecture"), entry.get("variant")) if p)


def platform_fits(wanted, offered):
    default_variant = {"arm64": "v8", "arm": "v7"}
    if wanted["os"] != offered["os"] or wanted["architecture"] != offered["architecture"]:
        return False
    arch = wanted["architecture"]
    left = wanted.get("variant") or default_variant.get(arch, "")
    right = offered.get("variant") or default_variant.get(arch, "")
    return left == right


class FakeRegistry:
    """Tags of one registry host; `down` makes every call fail with a recorded network error."""

    def __init__(self, host, credentials=None, down=None):
        self.host = host
        self.credentials = credentials
        self.down = down
        self.repos = {}

    def push(self, path, tag, platforms, revision="1"):
        """Publish path:tag; more than one platform makes it a manifest list. Returns the top digest."""
        entries = [platform_dict(p) for p in platforms]
        digest = sha256("{}/{}:{}:{}:{}".format(self.host, path, tag, revision, ",".join(platforms)))
        manifest = {"digest": digest, "platforms": entries, "index": len(entries) > 1, "revision": revision}
        self.repos.setdefault(path, {})[tag] = manifest
        return digest

    def find(self, path, tag_or_digest):
        tags = self.repos.get(path, {})
        if tag_or_digest.startswith("sha256:"):
            for manifest in tags.values():
                if manifest["digest"] == tag_or_digest:
                    return manifest
            return None
        return tags.get(tag_or_digest)


class FakeDockerAPI:
    def __init__(self, api_version=None, shape="20.10"):
        self.shape = shape
        self.captures = CAPTURES_BY_SHAPE[shape]
        self.api_version = api_version or SHAPES[shape][1]
        self.containerd = SHAPES[shape][2] == "containerd"
        self.version_template = captured("version", shape)
        self.inspect_template = captured("inspect_pinned", shape)
        self.list_template = captured("images_list", shape)[0]
        self.present = {}          # containerd store: image id -> [platform dicts present]
        self.host_platform = "linux/amd64"
        self.registries = {}
        self.images = {}           # id -> inspect dict
        self.requests = []         # (method, path without /vX.Y, query, headers)
        self.fail_pulls = {}       # familiar name -> [daemon messages] answered before any pull
        self.fail_in_stream = {}   # familiar name -> [messages] sent as a stream error after progress
        self.pull_barrier = None   # threading.Barrier: proves pulls run at the same time
        self.lock = threading.Lock()
        self.socket_dir = tempfile.mkdtemp(prefix="fakedockerd-", dir="/tmp")
        self.socket_path = os.path.join(self.socket_dir, "docker.sock")
        self.content_root = os.path.join(self.socket_dir, "containerd")
        self.server = None

    # --- test setup -------------------------------------------------------------------
    def registry(self, host, **kwargs):
        if host not in self.registries:
            self.registries[host] = FakeRegistry(host, **kwargs)
        return self.registries[host]

    @property
    def docker_host(self):
        return "unix://" + self.socket_path

    def calls(self, method=None, prefix=""):
        return [r for r in self.requests if (method is None or r[0] == method) and r[1].startswith(prefix)]

    def local(self, ref):
        """Inspect dict behind a 'name:tag' or 'name@digest', or None."""
        return self._resolve(ref)

    def add_local_image(self, ref, platform="linux/amd64", digest=None, image_id=None):
        """Put an image in the local store as if pulled earlier."""
        domain, path, tag, _digest = parse_ref(ref)
        if self.containerd:
            image_id = image_id or digest or sha256(f"local:{ref}")
            manifest = {"digest": image_id, "platforms": [platform_dict(platform)], "index": False, "revision": "1"}
            self._store_containerd(domain, path, tag or "latest", manifest, platform_dict(platform))
            return image_id
        image_id = image_id or sha256(f"local:{ref}:{platform}")
        self._store(image_id, domain, path, tag or "latest", digest, platform_dict(platform))
        return image_id

    # --- server -----------------------------------------------------------------------
    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.handle(self)

            do_POST = do_GET
            do_DELETE = do_GET

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(self.socket_path, Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        _image_store.CONTENT_ROOTS = (self.content_root,)  # this host's containerd, not the test machine's
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
        _image_store.CONTENT_ROOTS = DEFAULT_CONTENT_ROOTS
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    # --- HTTP plumbing ------------------------------------------------------------------
    def handle(self, h):
        url = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = unquote(url.path)
        match = re.match(r"^/v(\d+\.\d+)(/.*)$", path)
        if match:
            asked, path = match.group(1), match.group(2)
            if tuple(map(int, asked.split("."))) > tuple(map(int, self.api_version.split("."))):
                return self.send_json(h, 400, {"message": MSG_TOO_NEW.format(asked=asked, max=self.api_version)})
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)
        with self.lock:
            self.requests.append((h.command, path, query, dict(h.headers)))
        routes = (
            ("GET", r"^/version$", self.version),
            ("GET", r"^/images/json$", self.list_images),
            ("GET", r"^/images/(?P<name>.+)/json$", self.inspect),
            ("POST", r"^/images/(?P<name>.+)/tag$", self.tag),
            ("GET", r"^/distribution/(?P<name>.+)/json$", self.distribution),
            ("POST", r"^/images/create$", self.pull),
        )
        for method, pattern, handler in routes:
            found = re.match(pattern, path)
            if found and h.command == method:
                return handler(h, query, **found.groupdict())
        return self.send_json(h, 404, {"message": "page not found"})

    def send_json(self, h, status, body):
        payload = json.dumps(body).encode() if body is not None else b""
        h.send_response(status)
        h.send_header("Api-Version", self.api_version)
        if body is not None:
            h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)
        h.close_connection = True

    def send_stream(self, h, events, split_first=False):
        h.send_response(200)
        h.send_header("Api-Version", self.api_version)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for index, event in enumerate(events):
            data = (json.dumps(event) + "\r\n").encode()
            pieces = [data[:7], data[7:]] if split_first and index == 0 else [data]
            for piece in pieces:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                h.wfile.flush()
        h.wfile.write(b"0\r\n\r\n")
        h.close_connection = True

    # --- endpoints ----------------------------------------------------------------------
    def version(self, h, query):
        body = copy.deepcopy(self.version_template)
        body["ApiVersion"] = self.api_version
        body["Components"][0]["Details"]["ApiVersion"] = self.api_version
        return self.send_json(h, 200, body)

    def list_images(self, h, query):
        result = []
        for image in self.images.values():
            entry = copy.deepcopy(self.list_template)
            entry.update(Id=image["Id"], RepoTags=image["RepoTags"], RepoDigests=image["RepoDigests"],
                         Size=image["Size"])
            if "VirtualSize" in self.list_template:  # removed in API 1.44
                entry["VirtualSize"] = image["Size"]
            result.append(entry)
        return self.send_json(h, 200, result)

    def inspect(self, h, query, name):
        image = self._resolve(name)
        if image is None:
            return self.send_json(h, 404, {"message": self.no_such_image(name)})
        return self.send_json(h, 200, image)

    def tag(self, h, query, name):
        image = self._resolve(name)
        if image is None:
            return self.send_json(h, 404, {"message": self.no_such_image(name)})
        domain, path = split_name(query["repo"])
        with self.lock:
            self._move_tag(image["Id"], domain, path, query.get("tag") or "latest")
        return self.send_json(h, 201, None)

    def distribution(self, h, query, name):
        domain, path, tag, digest = parse_ref(name)
        manifest, error = self._registry_lookup(h, domain, path, tag or "latest", digest, for_pull=False)
        if error:
            return self.send_json(h, error[0], {"message": error[1]})
        media = MEDIA_INDEX if manifest["index"] else MEDIA_MANIFEST
        body = {"Descriptor": {"mediaType": media, "digest": manifest["digest"], "size": 810 if manifest["index"] else 440},
                "Platforms": manifest["platforms"]}
        return self.send_json(h, 200, body)

    def pull(self, h, query):
        domain, path = split_name(query["fromImage"])
        tag_or_digest = query.get("tag") or "latest"
        name = familiar(domain, path)
        if self.pull_barrier is not None:
            try:
                self.pull_barrier.wait()
            except threading.BrokenBarrierError:
                return self.send_json(h, 500, {"message": "fake dockerd: pulls did not run concurrently"})
        with self.lock:
            queued = self.fail_pulls.get(name) or []
            message = queued.pop(0) if queued else None
        if message:
            return self.send_json(h, 500, {"message": message})
        digest = tag_or_digest if tag_or_digest.startswith("sha256:") else ""
        tag = "" if digest else tag_or_digest
        manifest, error = self._registry_lookup(h, domain, path, tag, digest, for_pull=True)
        if error:
            return self.send_json(h, error[0], {"message": error[1]})
        head = {"status": "Pulling from " + path, "id": tag or f"{name}@{digest}"}
        wanted = platform_dict(query["platform"]) if query.get("platform") else platform_dict(self.host_platform)
        chosen = [p for p in manifest["platforms"] if platform_fits(wanted, p)]
        if self.containerd:
            return self._pull_containerd(h, domain, path, tag, digest, manifest, chosen, head)
        if manifest["index"] and not chosen:
            text = MSG_NO_MATCHING_MANIFEST.format(platform=platform_text(wanted))
            return self.send_stream(h, [head, {"errorDetail": {"message": text}, "error": text}])
        if not manifest["index"]:
            if query.get("platform") and not chosen:
                text = MSG_PLATFORM_MISMATCH.format(ref=f"{name}:{tag}", wanted=query["platform"],
                                                    actual=platform_text(manifest["platforms"][0]))
                return self.send_stream(h, [head, {"errorDetail": {"message": text}, "error": text}])
            chosen = manifest["platforms"]
        layer = manifest["digest"][7:19]
        with self.lock:
            queued = self.fail_in_stream.get(name) or []
            stream_failure = queued.pop(0) if queued else None
        if stream_failure:
            progress = {"status": "Downloading", "progressDetail": {"current": 56, "total": 112},
                        "progress": "[=========================>                         ]      56B/112B", "id": layer}
            return self.send_stream(h, [head, progress, {"errorDetail": {"message": stream_failure},
                                                         "error": stream_failure}])
        image_id = sha256("{}:{}".format(manifest["digest"], platform_text(chosen[0])))
        with self.lock:
            fresh = image_id not in self.images
            previous = self._resolve(f"{domain}/{path}:{tag}") if tag else None
            self._store(image_id, domain, path, tag, manifest["digest"], chosen[0])
        shown = f"{name}:{tag}" if tag else f"{name}@{digest}"
        events = [head]
        if fresh:
            events += [{"status": "Pulling fs layer", "progressDetail": {}, "id": layer},
                       {"status": "Downloading", "progressDetail": {"current": 112, "total": 112},
                        "progress": "[==================================================>]     112B/112B", "id": layer},
                       {"status": "Verifying Checksum", "progressDetail": {}, "id": layer},
                       {"status": "Download complete", "progressDetail": {}, "id": layer},
                       {"status": "Pull complete", "progressDetail": {}, "id": layer}]
        events.append({"status": "Digest: " + manifest["digest"]})
        up_to_date = previous is not None and previous["Id"] == image_id
        events.append({"status": ("Status: Image is up to date for " if up_to_date
                                  else "Status: Downloaded newer image for ") + shown})
        return self.send_stream(h, events, split_first=True)

    def _pull_containerd(self, h, domain, path, tag, digest, manifest, chosen, head):
        """The containerd image store: the name keeps the index; the pulled platform joins those present."""
        if manifest["index"] and not chosen:
            return self.send_json(h, 404, {"message": MSG_C8D_NO_PLATFORM})
        chosen = chosen or manifest["platforms"]  # a single manifest is pulled whatever the platform
        layer = sha256(manifest["digest"] + platform_text(chosen[0]))[7:19]
        with self.lock:
            queued = self.fail_in_stream.get(familiar(domain, path)) or []
            stream_failure = queued.pop(0) if queued else None
        if stream_failure:
            return self.send_stream(h, [head, {"status": "Pulling fs layer", "progressDetail": {}, "id": layer},
                                        {"errorDetail": {"message": stream_failure}, "error": stream_failure}])
        with self.lock:
            previous = self._resolve(f"{domain}/{path}:{tag}") if tag else None
            self._store_containerd(domain, path, tag, manifest, chosen[0])
        name = familiar(domain, path)
        events = [head, {"status": "Pulling fs layer", "progressDetail": {}, "id": layer},
                  {"status": "Download complete", "progressDetail": {"hidecounts": True}, "id": layer},
                  {"status": "Digest: " + manifest["digest"]}]
        # The status line compares only the index digest (recorded: adding a platform is "up to date").
        up_to_date = previous is not None and previous["Id"] == manifest["digest"]
        shown = f"{name}:{tag}" if tag else f"{name}@{digest}"
        events.append({"status": ("Status: Image is up to date for " if up_to_date
                                  else "Status: Downloaded newer image for ") + shown})
        return self.send_stream(h, events, split_first=True)

    def no_such_image(self, name):
        return (MSG_NO_SUCH_IMAGE if self.shape == "20.10" else MSG_NO_SUCH_IMAGE_26).format(name=name)

    # --- internals ----------------------------------------------------------------------
    def _store_containerd(self, domain, path, tag, manifest, platform):
        image_id = manifest["digest"]
        image = self.images.get(image_id)
        if image is None:
            image = copy.deepcopy(self.inspect_template)
            image.update(Id=image_id, RepoTags=[], RepoDigests=[], Size=10)
            self.images[image_id] = image
        present = self.present.setdefault(image_id, [])
        if platform not in present:
            present.append(platform)
        host = platform_dict(self.host_platform)
        shown = next((p for p in present if platform_fits(host, p)), present[0])  # what the host would run
        image.update(Os=shown["os"], Architecture=shown["architecture"])
        image.pop("Variant", None)
        if shown.get("variant"):
            image["Variant"] = shown["variant"]
        entry = f"{familiar(domain, path)}@{image_id}"
        if entry not in image["RepoDigests"]:
            image["RepoDigests"].append(entry)
        if tag:
            self._move_tag(image_id, domain, path, tag)
        self._write_content(manifest, present)

    def _write_content(self, manifest, present):
        """containerd's content store as on a host: the index, and manifest, config and layer of each platform
        present (the documents are shaped like the recorded ones; SYNTHETIC digests)."""
        blobs = os.path.join(self.content_root, "io.containerd.content.v1.content", "blobs", "sha256")
        os.makedirs(blobs, exist_ok=True)

        def write(digest, data):
            with open(os.path.join(blobs, digest.split(":", 1)[1]), "w") as handle:
                handle.write(data)

        descriptors = []
        for platform in manifest["platforms"]:
            key = "{}:{}".format(manifest["digest"], platform_text(platform))
            config, layer = sha256("config:" + key), sha256("layer:" + key)
            document = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                        "config": {"mediaType": MEDIA_CONFIG, "size": 2, "digest": config},
                        "layers": [{"mediaType": MEDIA_LAYER, "size": 1, "digest": layer}]}
            descriptors.append({"mediaType": MEDIA_MANIFEST, "size": 1, "digest": sha256("manifest:" + key),
                                "platform": platform})
            if platform in present:
                write(descriptors[-1]["digest"], json.dumps(document))
                write(config, json.dumps(dict(platform, rootfs={"type": "layers", "diff_ids": []})))
                write(layer, "layer")
        if manifest["index"]:
            write(manifest["digest"], json.dumps({"schemaVersion": 2, "mediaType": MEDIA_INDEX,
                                                  "manifests": descriptors}))
        else:
            write(manifest["digest"], open(os.path.join(blobs, descriptors[0]["digest"].split(":", 1)[1])).read())

    def _registry_lookup(self, h, domain, path, tag, digest, for_pull):
        """(manifest, None) or (None, (status, daemon message)) like dockerd answers."""
        registry = self.registries.get(domain)
        if registry is None or registry.down == "no_such_host":
            return None, (500, MSG_NO_SUCH_HOST.format(host=domain))
        if registry.down == "refused":
            return None, (500, MSG_CONNECTION_REFUSED.format(host=domain))
        if registry.credentials:
            header = h.headers.get("X-Registry-Auth")
            if not header and for_pull and self.containerd:
                ref = "{}/{}{}".format(domain, path, "@" + digest if digest else ":" + tag)
                return None, (500, MSG_C8D_NO_CREDENTIALS.format(ref=ref))
            if not header:
                return None, (500, MSG_NO_CREDENTIALS.format(host=domain, path=path, tag=digest or tag))
            sent = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
            if (sent.get("username"), sent.get("password")) != registry.credentials:
                return None, (500, MSG_BAD_CREDENTIALS)
        manifest = registry.find(path, digest or tag)
        if manifest is None:
            if domain == HUB and path not in registry.repos:
                return None, (404, MSG_HUB_DENIED.format(familiar=familiar(domain, path)))
            if for_pull and self.containerd:
                ref = "{}/{}{}".format(domain, path, "@" + digest if digest else ":" + tag)
                return None, (404, MSG_C8D_NOT_FOUND.format(ref=ref))
            if for_pull:
                return None, (404, MSG_PULL_MANIFEST_UNKNOWN.format(name=familiar(domain, path), tag=digest or tag))
            return None, (404, MSG_DIST_MANIFEST_UNKNOWN)
        return manifest, None

    def _store(self, image_id, domain, path, tag, digest, platform):
        image = self.images.get(image_id)
        if image is None:
            image = copy.deepcopy(self.inspect_template)
            image.update(Id=image_id, RepoTags=[], RepoDigests=[], Os=platform["os"],
                         Architecture=platform["architecture"], Size=10)
            if "VirtualSize" in self.inspect_template:  # removed in API 1.44
                image["VirtualSize"] = 10
            image.pop("Variant", None)
            if platform.get("variant"):
                image["Variant"] = platform["variant"]
            self.images[image_id] = image
        if digest:
            entry = f"{familiar(domain, path)}@{digest}"
            if entry not in image["RepoDigests"]:
                image["RepoDigests"].append(entry)
        if tag:
            self._move_tag(image_id, domain, path, tag)

    def _move_tag(self, image_id, domain, path, tag):
        entry = f"{familiar(domain, path)}:{tag}"
        for image in self.images.values():
            if entry in image["RepoTags"]:
                image["RepoTags"].remove(entry)
        self.images[image_id]["RepoTags"].append(entry)

    def _resolve(self, name):
        if name in self.images:
            return self.images[name]
        domain, path, tag, digest = parse_ref(name)
        if digest:
            wanted = f"{familiar(domain, path)}@{digest}"
            found = [i for i in self.images.values() if wanted in i["RepoDigests"]]
        else:
            wanted = "{}:{}".format(familiar(domain, path), tag or "latest")
            found = [i for i in self.images.values() if wanted in i["RepoTags"]]
        return copy.deepcopy(found[0]) if found else None

# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which platforms of an image are present locally, in either of dockerd's image stores.

- classic store (overlay2 and the other graph drivers): one image, so one platform, per name; the image ID is
  the digest of the image config.
- containerd image store ("features": {"containerd-snapshotter": true}, the default from Docker 29): the name
  holds the registry's index (or manifest) and the image ID is its digest; any of the index's platforms may be
  present. GET /images/{name}/json shows the one the host would run.

Engine API 1.44/1.45 (dockerd 25.0/26.1) has no call listing the platforms present (GET /images/json?manifests=1
came with 1.47), so they are read, read-only, from containerd's content store with the test dockerd applies: a
platform is present when its manifest, config and every layer are.
"""


import json
import os

from ansible_collections.fleetops.docker.plugins.module_utils import (
    _platforms as platforms,
)

# containerd's root when dockerd uses the system containerd, then dockerd's own managed containerd.
CONTENT_ROOTS = ("/var/lib/containerd", "/var/lib/docker/containerd/daemon")
BLOBS = os.path.join("io.containerd.content.v1.content", "blobs")
MAX_DOCUMENT = 4 * 1024 * 1024  # manifests and indexes are a few KiB; never read a layer by mistake
ATTESTATION = "attestation-manifest"

CLASSIC = "classic"
CONTAINERD = "containerd"


class ContentStore:
    def __init__(self, root):
        self.root = root

    def path(self, digest):
        algorithm, _sep, hexdigest = (digest or "").partition(":")
        if not (algorithm and hexdigest.isalnum()):
            return None
        return os.path.join(self.root, BLOBS, algorithm, hexdigest)

    def has(self, digest):
        path = self.path(digest)
        return bool(path) and os.path.isfile(path)

    def document(self, digest):
        """The JSON blob behind digest, or None when absent, unreadable, too big or not a JSON object."""
        path = self.path(digest)
        try:
            if not path or os.path.getsize(path) > MAX_DOCUMENT:
                return None
            with open(path, "rb") as handle:
                document = json.loads(handle.read().decode("utf-8"))
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    def platforms(self, document):
        """Present platforms of an index or manifest document; None when it is neither (a classic config)."""
        if isinstance(document.get("manifests"), list):
            found = []
            for descriptor in document["manifests"]:
                if not isinstance(descriptor, dict) or _is_attestation(descriptor):
                    continue
                manifest = self.document(descriptor.get("digest"))
                platform = self._present(manifest, descriptor.get("platform"))
                if platform and platform not in found:
                    found.append(platform)
            return found
        if isinstance(document.get("layers"), list) and isinstance(document.get("config"), dict):
            platform = self._present(document, None)
            return [platform] if platform else []
        return None

    def _present(self, manifest, declared):
        """The manifest's platform when its config and layers are all here, else None."""
        if not manifest or not isinstance(manifest.get("config"), dict):
            return None
        config_digest = manifest["config"].get("digest")
        layers = [layer.get("digest") for layer in manifest.get("layers") or [] if isinstance(layer, dict)]
        if not self.has(config_digest) or not all(self.has(digest) for digest in layers):
            return None
        source = declared if isinstance(declared, dict) else (self.document(config_digest) or {})
        platform = platforms.from_image(source)
        return None if "unknown" in (platform.os, platform.architecture) else platform


def _is_attestation(descriptor):
    annotations = descriptor.get("annotations") or {}
    return annotations.get("vnd.docker.reference.type") == ATTESTATION


def local_platforms(image, roots=None):
    """(store, platforms present locally) for an image inspect; the inspected platform when nothing else is known."""
    inspected = [platforms.from_image(image)]
    for root in roots or CONTENT_ROOTS:
        store = ContentStore(root)
        document = store.document(image.get("Id"))
        found = store.platforms(document) if document else None
        if found is not None:
            return CONTAINERD, found or inspected
    # Unreadable content store (not root): an image ID that is one of its registry digests still tells the store.
    content_addressed = any(entry.partition("@")[2] == image.get("Id") for entry in image.get("RepoDigests") or [])
    return (CONTAINERD if content_addressed else CLASSIC), inspected

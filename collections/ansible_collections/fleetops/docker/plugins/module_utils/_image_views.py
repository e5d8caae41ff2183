# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What image_pull and image_facts report about a local image (GET /images/{name}/json)."""


from ansible_collections.fleetops.docker.plugins.module_utils import (
    _image_reference as refs,
)
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _image_store as image_store,
)
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _platforms as platforms,
)


def repo_digests(image, repository):
    """Digests recorded locally for a repository name (RepoDigests entries are familiar names)."""
    found = []
    for entry in (image or {}).get("RepoDigests") or []:
        name, _sep, digest = entry.partition("@")
        if digest and refs.repository_of(name) == repository:
            found.append(digest)
    return found


def image_view(image):
    """The facts kept for a local image (GET /images/{name}/json); `platform` is the one the host would run,
    `platforms` every one present (several only in the containerd image store)."""
    platform = platforms.from_image(image)
    store, present = image_store.local_platforms(image)
    return {
        "id": image.get("Id"),
        "repo_tags": image.get("RepoTags") or [],
        "repo_digests": image.get("RepoDigests") or [],
        "os": image.get("Os") or "",
        "architecture": image.get("Architecture") or "",
        "variant": image.get("Variant") or "",
        "platform": str(platform),
        "platforms": [str(p) for p in present],
        "image_store": store,
        "size": image.get("Size"),
        "created": image.get("Created"),
    }

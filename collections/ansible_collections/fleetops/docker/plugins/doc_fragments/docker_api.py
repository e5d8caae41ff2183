"""Options shared by the modules that talk to dockerd and to registries (image_pull, image_facts)."""
from __future__ import annotations


class ModuleDocFragment:
    # The daemon connection (module_utils/_docker_api.py DOCKER_HOST_ARGUMENT_SPEC).
    DOCUMENTATION = r"""
options:
  docker_host:
    description: The daemon socket, C(unix:///path). TCP and SSH endpoints are not supported.
    type: str
    default: unix:///var/run/docker.sock
  timeout:
    description: Seconds to wait for each answer or progress message from the daemon; 1 to 86400.
    type: int
    default: 60
  deadline:
    description:
      - Seconds the whole task may spend with the daemon (every request, pull and retry together); V(0) means no limit.
      - Checked between answers and progress messages, so it can be passed by up to O(timeout).
    type: int
    default: 3600
notes:
  - Talks to the Docker Engine API version min(daemon, 1.47) over the UNIX socket with the Python standard
    library; API 1.32 (Docker 17.09) or newer is required. Nothing needs to be installed on the target.
"""

    # Registry access (module_utils/_registry_auth.py REGISTRY_ARGUMENT_SPEC).
    REGISTRY = r"""
options:
  registry_mirrors:
    description:
      - "Reach the images of a registry through a mirror or pull-through cache, for example
        C(quay.io: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/quay) for an ECR pull-through cache rule.
        The value is C(host[:port][/path-prefix]); the image path is appended to it."
      - A pulled image is tagged under its canonical name (C(quay.io/...)). The mirror name is kept, on purpose;
        removing it would also drop the image's only RepoDigests entry, which check mode and C(pull=always)
        compare with the registry. Digest references pulled through a mirror stay under the mirror name.
    type: dict
    default: {}
  registry_auth:
    description:
      - Credentials per registry. Registries not listed here use the remote user's docker config
        (O(docker_config)), that is C(credHelpers), C(credsStore) or C(auths), like the docker CLI.
    type: list
    elements: dict
    default: []
    suboptions:
      registry:
        description: Registry host, for example C(quay.io) or C(docker.io).
        type: str
        required: true
      username:
        description: User name.
        type: str
      password:
        description: Password or access token. Never shown in output.
        type: str
      identity_token:
        description: Identity token (OAuth refresh token) instead of username and password.
        type: str
  docker_config:
    description:
      - Path of the docker client configuration of the remote user. Default is C($DOCKER_CONFIG/config.json)
        or C(~/.docker/config.json) of the user the module runs as (root with become).
    type: path
"""

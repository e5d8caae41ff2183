# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Classify the daemon's pull/distribution error messages: what went wrong, and is a retry useful.

The daemon answers nearly every registry problem with HTTP 500 (or 404), so the class comes from
the message text (dockerd 20.10 and 26.1 wording, e.g. "manifest for X not found: manifest unknown: manifest
unknown", "Head \"https://r/v2/..\": no basic auth credentials"; the containerd image store words them its own way,
e.g. 'failed to resolve reference "X": X: not found').
"""


# (kind, transient, lower-case substrings); the first matching row wins, so order matters.
ERROR_RULES = (
    ("invalid_reference", False, ("invalid reference format",)),
    ("platform_unavailable", False, ("no matching manifest for", "does not match the specified platform",
                                     "no match for platform")),
    # containerd image store: "pull access denied, repository does not exist or may require authorization:
    # authorization failed: no basic auth credentials" is about credentials, not the repository.
    ("unauthorized", False, ("authorization failed", "no basic auth credentials")),
    ("repository_not_found", False, ("repository does not exist", "name unknown", "repository name not known")),
    ("unauthorized", False, ("unauthorized", "no basic auth credentials", "authentication required",
                             "denied", "incorrect username or password")),
    ("manifest_unknown", False, ("manifest unknown", "not found: manifest", "manifest for ",
                                 # containerd image store: 'failed to resolve reference "r/x:t": r/x:t: not found'
                                 ": not found ")),
    ("rate_limited", True, ("toomanyrequests", "too many requests", " 429 ")),
    ("registry_unreachable", False, ("no such host", "no route to host", "network is unreachable",
                                     "server gave http response to https client", "x509:")),
    ("registry_unreachable", True, ("connection refused", "connection reset by peer", "tls handshake timeout",
                                    "i/o timeout", "unexpected eof", "timeout exceeded", "context deadline exceeded",
                                    "broken pipe")),
    ("registry_error", True, ("unexpected http status: 5", "500 internal server error", "502 bad gateway",
                              "503 service unavailable", "504 gateway timeout", "service unavailable")),
)

HINTS = {
    "invalid_reference": "the daemon rejected the reference as invalid",
    "platform_unavailable": "the registry does not offer this image for the requested platform",
    "repository_not_found": "the repository does not exist, or it is private and no credentials were sent",
    "unauthorized": "the registry refused the credentials (or none were given): set registry_auth, or "
                    "log in so that ~/.docker/config.json of the remote user has them",
    "manifest_unknown": "the tag or digest does not exist in the registry (or the repository itself does not)",
    "rate_limited": "the registry rate-limited the pull (HTTP 429); retried with backoff",
    "registry_unreachable": "the registry could not be reached (name resolution, connection or TLS failure)",
    "registry_error": "the registry answered with a server error (5xx)",
    "daemon": "the Docker daemon could not be used",
    "error": "the pull failed",
}


def classify(message):
    """(kind, transient) for a daemon error message."""
    text = " {} ".format((message or "").lower())
    for kind, transient, needles in ERROR_RULES:
        if any(needle in text for needle in needles):
            return kind, transient
    return "error", False


def describe(reference, message, kind=None):
    """One clear line: '<reference>: <what it means> -- daemon said: <message>'.

    For kind "daemon" the message is the client's own account of the connection, so it is not quoted as the
    daemon's."""
    kind = kind or classify(message)[0]
    source = "" if kind == "daemon" else "daemon said: "
    return "{}: {} -- {}{}".format(reference, HINTS.get(kind, HINTS["error"]), source, message)

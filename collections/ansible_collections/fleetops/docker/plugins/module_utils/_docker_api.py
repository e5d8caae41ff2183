# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Docker Engine API client over the daemon's UNIX socket (http.client only).

- docker_host: unix:///path/to/docker.sock (tcp:// and ssh:// are refused: not implemented).
- The API version is negotiated once through GET /version: min(daemon ApiVersion, MAX_API_VERSION).
- Errors carry the daemon's own `message`; socket problems get an explanation of the fix.
- Tests inject `connection_factory` (any callable returning an http.client.HTTPConnection).
"""


import codecs
import errno
import http.client
import json
import socket
import threading
import time
from urllib.parse import quote, urlencode

# socket.timeout is an alias of TimeoutError only from Python 3.10 on.
SOCKET_TIMEOUT = getattr(socket, "timeout", TimeoutError)

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_TIMEOUT = 60
MAX_API_VERSION = "1.47"
MIN_API_VERSION = "1.32"  # platform on POST /images/create (1.32), /distribution (1.30)
DEFAULT_DEADLINE = 3600
MAX_TIMEOUT = 86400  # a socket timeout must fit the platform's time type; a day is already far too long
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # one JSON answer (GET /images/json of a very full host is a few MiB)
MAX_STREAM_ENTRY_BYTES = 1024 * 1024  # one entry of a progress stream (they are well under 1 KiB)

DOCKER_HOST_ARGUMENT_SPEC = {
    "docker_host": {"type": "str", "default": DEFAULT_DOCKER_HOST},
    "timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
    "deadline": {"type": "int", "default": DEFAULT_DEADLINE},
}

# errno of connect() on the socket -> explanation
_DAEMON_DOWN = (
    "Docker daemon is not running or its socket {path} does not exist ({error}). "
    "Install and start Docker first (e.g. the fleetops.docker.engine module, or "
    "'systemctl start docker'), or set docker_host to the right socket.")
_SOCKET_DENIED = (
    "Permission denied on the Docker socket {path} ({error}). The remote user must be in the "
    "'docker' group (log in again after adding it) or the task must use 'become: true'.")
CONNECT_ERRORS = {
    errno.ENOENT: _DAEMON_DOWN,
    errno.ECONNREFUSED: _DAEMON_DOWN,
    errno.ENOTSOCK: _DAEMON_DOWN,
    errno.EACCES: _SOCKET_DENIED,
    errno.EPERM: _SOCKET_DENIED,
}


class DockerAPIError(Exception):
    """An Engine API call failed; `daemon_message` is the daemon's own text when it sent one."""

    def __init__(self, message, status=None, daemon_message=None):
        super().__init__(message)
        self.status = status
        self.daemon_message = daemon_message if daemon_message is not None else message


class DaemonConnectionError(DockerAPIError):
    """The socket could not be reached at all (daemon down, permissions, timeout)."""


class StreamError(DockerAPIError):
    """An `error`/`errorDetail` entry inside a streamed answer (HTTP status was 200)."""


class DeadlineExceeded(DaemonConnectionError):
    """The task's overall deadline passed while talking to the daemon."""


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTPConnection that connects an AF_UNIX stream socket."""

    def __init__(self, socket_path, timeout=DEFAULT_TIMEOUT):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except Exception:
            sock.close()
            raise
        self.sock = sock


def socket_path_from_docker_host(docker_host):
    docker_host = docker_host or DEFAULT_DOCKER_HOST
    if docker_host.startswith("unix://"):
        path = docker_host[len("unix://"):]
        if path.startswith("/"):
            return path
    raise DockerAPIError(
        f"docker_host={docker_host!r} is not supported: only local UNIX sockets such as {DEFAULT_DOCKER_HOST} "
        "are (the Engine API is reached over the daemon's socket on the target host).")


def version_tuple(version):
    return tuple(int(part) for part in str(version).split("."))


def _parse_api_version(version):
    """The daemon's ApiVersion as a tuple; DockerAPIError when it is not 'N.N'."""
    try:
        parsed = version_tuple(version)
    except ValueError:
        parsed = ()
    if not isinstance(version, str) or len(parsed) != 2:
        raise DockerAPIError(f"GET /version reported an ApiVersion that is not 'major.minor': {version!r:.100}")
    return parsed


def quote_name(name):
    """Image names go into the URL path as docker does: '/', ':' and '@' stay readable."""
    return quote(name, safe="/:@")


def iter_json_stream(chunks, max_entry=MAX_STREAM_ENTRY_BYTES):
    """Yield JSON values from an iterable of byte chunks holding concatenated JSON documents.

    At most max_entry characters are held while waiting for a document to complete."""
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer = ""
    for chunk in chunks:
        buffer += text.decode(chunk)
        while True:
            buffer = buffer.lstrip()
            if not buffer:
                break
            try:
                obj, end = decoder.raw_decode(buffer)
            except ValueError:
                break  # incomplete document: wait for more bytes
            buffer = buffer[end:]
            yield obj
        if len(buffer) > max_entry:
            raise DockerAPIError(f"The Docker daemon sent more than {max_entry} bytes that are not a JSON document: "
                                 f"{buffer[:200]!r}")
    buffer += text.decode(b"", final=True)
    if buffer.strip():
        raise DockerAPIError(f"Truncated or invalid JSON stream from the Docker daemon: {buffer[:200]!r}")


def stream_error(event):
    """The error text of a stream entry, or None ({"errorDetail": {"message": ..}, "error": ..}).

    errorDetail may be an object or a plain string; an entry that is not an object is an error itself."""
    if not isinstance(event, dict):
        return f"unexpected stream entry (not a JSON object): {event!r:.200}"
    detail = event.get("errorDetail")
    if isinstance(detail, dict):
        detail = detail.get("message")
    message = detail or event.get("error")
    return str(message) if message else None


class DockerAPIClient:
    def __init__(self, docker_host=DEFAULT_DOCKER_HOST, timeout=DEFAULT_TIMEOUT, connection_factory=None,
                 api_version=None, deadline=None, clock=time.monotonic):
        """deadline: seconds all calls of this client may take together (None or 0: no limit)."""
        self.socket_path = socket_path_from_docker_host(docker_host)
        self.timeout = timeout
        self.deadline_seconds = deadline or None
        self._clock = clock
        self._deadline_at = clock() + deadline if deadline else None
        self._connection_factory = connection_factory or (
            lambda: UnixHTTPConnection(self.socket_path, timeout=self.timeout))
        self._api_version = api_version
        self._daemon_version = None
        self._lock = threading.Lock()

    # --- transport -------------------------------------------------------------------------
    def remaining(self):
        """Seconds left before the overall deadline (None: no deadline)."""
        if self._deadline_at is None:
            return None
        return self._deadline_at - self._clock()

    def check_deadline(self, doing):
        left = self.remaining()
        if left is not None and left <= 0:
            raise DeadlineExceeded(f"The overall deadline of {self.deadline_seconds}s passed {doing}; "
                                   "raise 'deadline' if the daemon or registry is just slow")

    def _connect(self):
        self.check_deadline("before connecting to the Docker daemon")
        conn = self._connection_factory()
        try:
            conn.connect()
        except SOCKET_TIMEOUT:
            raise DaemonConnectionError(
                f"Timed out after {self.timeout}s connecting to the Docker socket {self.socket_path}") from None
        except OSError as exc:
            template = CONNECT_ERRORS.get(exc.errno)
            if template is None:
                raise DaemonConnectionError(f"Cannot connect to the Docker socket {self.socket_path}: {exc}") from exc
            raise DaemonConnectionError(template.format(path=self.socket_path, error=exc)) from exc
        return conn

    def _url(self, path, params=None, versioned=True):
        url = (f"/v{self.api_version}{path}") if versioned else path
        params = {k: v for k, v in (params or {}).items() if v is not None}
        return url + ("?" + urlencode(params) if params else "")

    def _send(self, method, path, params=None, body=None, headers=None, versioned=True):
        """Send a request; returns (connection, response) with the body still unread."""
        url = self._url(path, params, versioned)
        send_headers = {"Host": "docker"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            send_headers["Content-Type"] = "application/json"
        send_headers.update(headers or {})
        conn = self._connect()
        try:
            conn.request(method, url, body=payload, headers=send_headers)
            response = conn.getresponse()
        except SOCKET_TIMEOUT:
            conn.close()
            raise DaemonConnectionError(
                f"Timed out after {self.timeout}s waiting for the Docker daemon to answer {method} {path}") from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise DaemonConnectionError(f"Connection to the Docker daemon failed during {method} {path}: {exc}") from exc
        if response.status >= 400:
            raw = self._read(conn, response, method, path)
            conn.close()
            raise self._http_error(method, path, response.status, raw)
        return conn, response

    def _read(self, conn, response, method, path):
        length = getattr(response, "length", None)  # Content-Length; None when chunked
        if length is not None and length > MAX_ANSWER_BYTES:
            conn.close()
            raise DockerAPIError(f"Docker daemon answered {method} {path} with more than {MAX_ANSWER_BYTES} bytes")
        try:
            # read() checks a Content-Length body is complete; read(n) would return a short body silently.
            raw = response.read() if length is not None else response.read(MAX_ANSWER_BYTES + 1)
        except SOCKET_TIMEOUT:
            conn.close()
            raise DaemonConnectionError(
                f"Timed out after {self.timeout}s reading the answer to {method} {path}") from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise DaemonConnectionError(
                f"Connection to the Docker daemon broke while reading the answer to {method} {path} "
                f"(was it stopped or restarted?): {exc!r}") from None
        if len(raw) > MAX_ANSWER_BYTES:
            conn.close()
            raise DockerAPIError(f"Docker daemon answered {method} {path} with more than {MAX_ANSWER_BYTES} bytes")
        return raw

    @staticmethod
    def _http_error(method, path, status, raw):
        text = raw.decode("utf-8", errors="replace").strip()
        try:
            message = json.loads(text).get("message") or text
        except (ValueError, AttributeError):
            message = text
        return DockerAPIError(
            f"Docker daemon answered {method} {path} with HTTP {status}: {message}",
            status=status, daemon_message=message)

    def request(self, method, path, params=None, body=None, headers=None, versioned=True):
        """Perform a request and return the decoded JSON answer (None for an empty body)."""
        conn, response = self._send(method, path, params, body, headers, versioned)
        try:
            raw = self._read(conn, response, method, path)
        finally:
            conn.close()
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise DockerAPIError(f"Docker daemon answered {method} {path} with non-JSON data: {text[:200]!r}") from None

    # --- version negotiation ---------------------------------------------------------------
    @property
    def api_version(self):
        with self._lock:
            if self._api_version is None:
                self._api_version = self._negotiate()
        return self._api_version

    def _negotiate(self):
        version = self.request("GET", "/version", versioned=False) or {}
        if not isinstance(version, dict):
            raise DockerAPIError(f"GET /version did not answer a JSON object: {version!r:.200}")
        self._daemon_version = version
        daemon_api = version.get("ApiVersion")
        if not daemon_api:
            raise DockerAPIError(f"GET /version did not report an ApiVersion: {version!r:.200}")
        _parse_api_version(daemon_api)
        chosen = min(daemon_api, MAX_API_VERSION, key=version_tuple)
        if version_tuple(chosen) < version_tuple(MIN_API_VERSION):
            daemon = version.get("Version", "?")
            raise DockerAPIError(f"Docker daemon {daemon} speaks Engine API {daemon_api}; API {MIN_API_VERSION} "
                                 "or newer is required (Docker 17.09+).")
        return chosen

    def version(self):
        if self.api_version and self._daemon_version:
            return self._daemon_version
        return self.request("GET", "/version", versioned=False)

    # --- helpers ---------------------------------------------------------------------------
    def get_json(self, path, params=None, headers=None, missing_ok=False, expect=dict):
        """GET path; with missing_ok a 404 returns None. An answer that is not of type `expect` is an error."""
        try:
            answer = self.request("GET", path, params=params, headers=headers)
        except DockerAPIError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise
        if answer is not None and not isinstance(answer, expect):
            raise DockerAPIError(f"Docker daemon answered GET {path} with a JSON {type(answer).__name__} where a "
                                 f"{'list' if expect is list else 'object'} was expected: {answer!r:.200}")
        return answer

    def post(self, path, params=None, body=None, headers=None):
        return self.request("POST", path, params=params, body=body, headers=headers)

    def delete(self, path, params=None):
        return self.request("DELETE", path, params=params)

    def stream(self, method, path, params=None, headers=None):
        """Read a streamed JSON answer to its end and return its last entry; raise StreamError on the first error entry.

        Entries are not kept (a pull streams thousands of progress entries)."""
        conn, response = self._send(method, path, params, headers=headers)
        last = None
        try:
            for last in iter_json_stream(self._chunks(conn, response, method, path)):
                self.check_deadline(f"during {method} {path}")
                message = stream_error(last)
                if message:
                    raise StreamError(f"Docker daemon reported an error during {method} {path}: {message}",
                                      status=response.status, daemon_message=message)
        finally:
            conn.close()
        return last

    def _chunks(self, conn, response, method, path):
        while True:
            chunk = self._read_chunk(conn, response, method, path)
            if not chunk:
                return
            yield chunk

    def _read_chunk(self, conn, response, method, path):
        self.check_deadline(f"during {method} {path}")
        try:
            return response.read1(65536) if hasattr(response, "read1") else response.read(65536)
        except SOCKET_TIMEOUT:
            raise DaemonConnectionError(
                f"Timed out after {self.timeout}s waiting for progress of {method} {path}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise DaemonConnectionError(f"Connection to the Docker daemon broke during {method} {path}: {exc}") from exc

    # --- image endpoints -------------------------------------------------------------------
    def inspect_image(self, name):
        return self.get_json(f"/images/{quote_name(name)}/json", missing_ok=True)

    def list_images(self):
        return self.get_json("/images/json", expect=list) or []

    def distribution(self, name, auth_header=None):
        headers = {"X-Registry-Auth": auth_header} if auth_header else None
        return self.get_json(f"/distribution/{quote_name(name)}/json", headers=headers)

    def pull_stream(self, from_image, tag, platform=None, auth_header=None):
        """POST /images/create; returns the last progress entry ({"status": "Status: Downloaded newer image for .."})."""
        params = {"fromImage": from_image, "tag": tag, "platform": platform or None}
        headers = {"X-Registry-Auth": auth_header} if auth_header else None
        return self.stream("POST", "/images/create", params=params, headers=headers)

    def tag_image(self, source, repo, tag):
        return self.post(f"/images/{quote_name(source)}/tag", params={"repo": repo, "tag": tag})

"""DockerAPIClient under faults: dropped connections, odd stream entries, unbounded input, deadlines.

The dropped-connection cases use a real UNIX socket whose server sends a partial answer and closes,
the way dockerd does when it is stopped or restarted mid-answer."""
from __future__ import annotations

import http.client
import json
import os
import socket
import tempfile
import threading

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import _docker_api as api


class PartialAnswerServer:
    """Accepts connections and answers each with `raw` bytes, then closes the socket."""

    def __init__(self, raw):
        self.raw = raw
        self.dir = tempfile.mkdtemp(prefix="secapi-", dir="/tmp")
        self.path = os.path.join(self.dir, "docker.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(self.raw)
            conn.close()

    def close(self):
        # shutdown() wakes the accept() blocked in _serve; close() alone would leave it blocked for good
        self.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


@pytest.fixture
def partial_server():
    servers = []

    def make(raw):
        servers.append(PartialAnswerServer(raw))
        return api.DockerAPIClient("unix://" + servers[-1].path, timeout=5, api_version="1.41")

    yield make
    for server in servers:
        server.close()
        # a thread left in accept() takes the connections of whichever later socket reuses its fd number
        assert not server.thread.is_alive()


def test_connection_dropped_mid_json_answer_is_a_clear_daemon_error(partial_server):
    client = partial_server(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n[{"Id": "sha')

    with pytest.raises(api.DaemonConnectionError) as raised:
        client.list_images()

    assert "Connection to the Docker daemon broke while reading the answer to GET /images/json" in str(raised.value)
    assert "IncompleteRead" in str(raised.value)


@pytest.mark.parametrize("body", [
    b'1a\r\n{"status":"Pulling fs la',  # inside a chunk
    b'1d\r\n{"status":"Pulling fs layer"}\r\n',  # after a whole chunk, before the last (empty) one
])
def test_connection_dropped_mid_stream_is_a_clear_daemon_error(partial_server, body):
    client = partial_server(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' + body)

    with pytest.raises(api.DaemonConnectionError) as raised:
        client.pull_stream("docker.io/library/busybox", "latest")

    assert "POST /images/create" in str(raised.value)


class ChunkedAnswer:
    status = 200

    def __init__(self, chunks, on_read=None):
        self.chunks = iter(chunks)
        self.read_count = 0
        self.on_read = on_read

    def read1(self, size):
        self.read_count += 1
        if self.on_read:
            self.on_read()
        return next(self.chunks, b"")


class ClosingConnection:
    closed = False

    def close(self):
        self.closed = True


def streaming_client(monkeypatch, chunks, **client_args):
    client = api.DockerAPIClient(api.DEFAULT_DOCKER_HOST, api_version="1.41", **client_args)
    answer, conn = ChunkedAnswer(chunks), ClosingConnection()
    monkeypatch.setattr(client, "_send", lambda *args, **kwargs: (conn, answer))
    return client, answer, conn


@pytest.mark.parametrize("entry", [[1, 2], "just a string", 42, None, True])
def test_stream_entry_that_is_not_an_object_is_an_engine_error(monkeypatch, entry):
    client, _answer, conn = streaming_client(monkeypatch, [b'{"status":"Pulling"}', json.dumps(entry).encode()])

    with pytest.raises(api.StreamError) as raised:
        client.stream("POST", "/images/create")

    assert "not a JSON object" in raised.value.daemon_message
    assert conn.closed


def test_error_detail_given_as_a_string_is_the_message(monkeypatch):
    client, _answer, _conn = streaming_client(monkeypatch, [b'{"errorDetail": "toomanyrequests: slow down"}'])

    with pytest.raises(api.StreamError) as raised:
        client.stream("POST", "/images/create")

    assert raised.value.daemon_message == "toomanyrequests: slow down"


@pytest.mark.parametrize("event, message", [
    ({"errorDetail": {"message": "a"}, "error": "b"}, "a"),
    ({"errorDetail": {}, "error": "b"}, "b"),
    ({"errorDetail": "c"}, "c"),
    ({"error": {"code": 1}}, "{'code': 1}"),
    ({"status": "ok", "errorDetail": None}, None),
])
def test_stream_error_shapes(event, message):
    assert api.stream_error(event) == message


def test_non_json_input_is_not_buffered_without_bound():
    consumed = []

    def garbage():
        for _n in range(2000):  # 128 MiB if all were read
            consumed.append(1)
            yield b"<html>" + b"x" * 65530

    with pytest.raises(api.DockerAPIError) as raised:
        list(api.iter_json_stream(garbage()))

    assert "not a JSON document" in str(raised.value)
    assert len(consumed) <= api.MAX_STREAM_ENTRY_BYTES // 65536 + 2


def test_a_multibyte_character_split_across_chunks_survives():
    body = json.dumps({"status": "Pulling caf\u00e9"}, ensure_ascii=False).encode()
    cut = body.index(b"\xc3") + 1

    assert list(api.iter_json_stream([body[:cut], body[cut:]])) == [{"status": "Pulling caf\u00e9"}]


def test_overall_deadline_stops_a_stream_that_never_ends(monkeypatch):
    now = [0.0]

    def endless():
        while True:
            yield b'{"status":"Downloading","progressDetail":{"current":1}}'

    client, answer, conn = streaming_client(monkeypatch, endless(), deadline=30, clock=lambda: now[0])
    answer.on_read = lambda: now.__setitem__(0, now[0] + 1.0)  # every progress message takes one second

    with pytest.raises(api.DeadlineExceeded) as raised:
        client.stream("POST", "/images/create")

    assert "overall deadline of 30s" in str(raised.value)
    assert 29 <= answer.read_count <= 32
    assert conn.closed


def test_no_request_starts_after_the_deadline():
    now = [0.0]
    client = api.DockerAPIClient(api.DEFAULT_DOCKER_HOST, api_version="1.41", deadline=10, clock=lambda: now[0])
    client._connection_factory = lambda: pytest.fail("connected after the deadline")
    now[0] = 11.0

    with pytest.raises(api.DeadlineExceeded):
        client.list_images()
    assert client.remaining() == -1.0


def test_zero_deadline_means_no_limit():
    assert api.DockerAPIClient(api.DEFAULT_DOCKER_HOST, deadline=0).remaining() is None


@pytest.mark.parametrize("answer", [[], "text", 3])
def test_inspect_answer_that_is_not_an_object_is_an_engine_error(monkeypatch, answer):
    client = api.DockerAPIClient(api.DEFAULT_DOCKER_HOST, api_version="1.41")
    monkeypatch.setattr(client, "request", lambda *args, **kwargs: answer)

    with pytest.raises(api.DockerAPIError) as raised:
        client.inspect_image("busybox")
    assert "where a object was expected" in str(raised.value) or "was expected" in str(raised.value)


@pytest.mark.parametrize("version", [[], {"ApiVersion": "one.two"}, {"ApiVersion": 1.41}, {"ApiVersion": "1"}])
def test_odd_version_answers_are_engine_errors(monkeypatch, version):
    client = api.DockerAPIClient(api.DEFAULT_DOCKER_HOST)
    monkeypatch.setattr(client, "request", lambda *args, **kwargs: version)

    with pytest.raises(api.DockerAPIError):
        client.version()


def test_an_answer_over_the_size_bound_is_refused(monkeypatch):
    client = api.DockerAPIClient(api.DEFAULT_DOCKER_HOST, api_version="1.41")
    monkeypatch.setattr(api, "MAX_ANSWER_BYTES", 100)

    class Big:
        status = 200

        def read(self, amt=None):
            return b"[" + b"1," * (amt or 10**6)

    monkeypatch.setattr(client, "_send", lambda *args, **kwargs: (ClosingConnection(), Big()))

    with pytest.raises(api.DockerAPIError) as raised:
        client.list_images()
    assert "more than 100 bytes" in str(raised.value)


def test_incomplete_read_is_wrapped_not_raised(monkeypatch):
    client = api.DockerAPIClient(api.DEFAULT_DOCKER_HOST, api_version="1.41")

    class Dropped:
        status = 200

        def read(self, amt=None):
            raise http.client.IncompleteRead(b"[", 99)

    monkeypatch.setattr(client, "_send", lambda *args, **kwargs: (ClosingConnection(), Dropped()))

    with pytest.raises(api.DaemonConnectionError):
        client.inspect_image("busybox")

#!/usr/bin/env python3
"""A TCP proxy that slows answers down: the fault tests' registry sits behind it so a pull lasts seconds.

    throttle.py LISTEN_PORT UPSTREAM_HOST:PORT BYTES_PER_SECOND COUNTER_FILE

Runs inside the flt-registry container (python3 of the fleet's host image, standard library only). Answers from
upstream reach the client at BYTES_PER_SECOND per connection; requests pass at full speed (pushes stay fast).
COUNTER_FILE holds the number of answer bytes sent so far, so a test can wait until a pull is under way.
"""
import os
import socket
import sys
import threading
import time

CHUNK = 16384


class Counter:
    def __init__(self, path):
        self.path, self.total, self.saved, self.lock = path, 0, 0.0, threading.Lock()
        self.save()

    def add(self, count):
        with self.lock:
            self.total += count
            if time.monotonic() - self.saved > 0.1:
                self.save()

    def save(self):
        with open(self.path + ".tmp", "w") as handle:
            handle.write(str(self.total))
        os.replace(self.path + ".tmp", self.path)
        self.saved = time.monotonic()


def pipe(source, sink, rate=None, counter=None):
    started, sent = time.monotonic(), 0
    try:
        while True:
            data = source.recv(CHUNK)
            if not data:
                break
            sink.sendall(data)
            if rate:
                sent += len(data)
                counter.add(len(data))
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def main():
    port, upstream, rate, counter_path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    host, _, upstream_port = upstream.rpartition(":")
    counter = Counter(counter_path)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(64)
    while True:
        client, _ = server.accept()
        try:
            backend = socket.create_connection((host, int(upstream_port)), timeout=10)
        except OSError:
            client.close()
            continue
        backend.settimeout(None)
        threading.Thread(target=pipe, args=(client, backend), daemon=True).start()
        threading.Thread(target=pipe, args=(backend, client, rate, counter), daemon=True).start()


if __name__ == "__main__":
    main()

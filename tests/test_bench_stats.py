"""The benchmark's own arithmetic: what it reports must be what it measured."""

import http.client
import socket
import struct
import threading

import pytest

from bench.load import Browser, percentile

pytestmark = pytest.mark.unit


def test_a_percentile_is_one_of_the_samples_never_beyond_the_slowest() -> None:
    # Sixteen completion-to-display times, as the benchmark takes them: the p95 once read
    # 3.70 s here, past the slowest sample (3.6 s), from an extrapolating quantile method.
    latencies = [1.0] * 14 + [2.9, 3.6]
    assert percentile(latencies, 95) == 3.6
    assert percentile(latencies, 50) == 1.0
    assert percentile(list(range(100)), 95) == 95
    assert percentile([0.4], 95) == 0.4


LINGER_NONE = struct.pack("ii", 1, 0)


class OneShotServer:
    """A loopback HTTP server that plays `connections` in turn: each is a list of what to do with
    the requests read on one accepted connection, "answer" (200, kept alive) or "reset" (the
    request read, the connection closed with a TCP reset, as a server closing a kept-alive
    connection with a request unread in it does)."""

    def __init__(self, *connections: list[str]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.answered = 0
        self.thread = threading.Thread(target=self._serve, args=(connections,), daemon=True)
        self.thread.start()

    def _serve(self, connections: tuple[list[str], ...]) -> None:
        for steps in connections:
            conn, _ = self.listener.accept()
            with conn:
                for step in steps:
                    received = b""
                    while b"\r\n\r\n" not in received:
                        if not (more := conn.recv(4096)):
                            return  # the client went away
                        received += more
                    if step == "truncate":  # the answer begun, then a reset
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\nok")
                    if step in ("reset", "truncate"):  # linger on, for no time: close resets
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_NONE)
                        break
                    self.answered += 1
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        self.listener.close()


def test_a_reused_connection_reset_before_its_answer_is_sent_again_as_a_browser_does() -> None:
    # The busy team's one failed poll was a reset: gunicorn closing a kept-alive connection a
    # request had just reached. A browser sends that request again.
    server = OneShotServer(["answer", "reset"], ["answer"])
    with Browser(server.url, {}) as browser:
        assert browser.get("/").status == 200
        assert browser.resent == 0
        assert browser.get("/", params={"seen": "a:b"}).text == "ok"
        assert browser.resent == 1  # and the report counts it
    server.thread.join(timeout=30)
    assert server.answered == 2


def test_a_new_connection_reset_is_the_persons_to_see() -> None:
    server = OneShotServer(["reset"])
    with Browser(server.url, {}) as browser, pytest.raises(ConnectionError):
        browser.get("/")
    assert browser.resent == 0


def test_a_reset_after_the_answer_began_is_the_persons_to_see() -> None:
    server = OneShotServer(["answer", "truncate"])
    with Browser(server.url, {}) as browser:
        assert browser.get("/").status == 200
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            browser.get("/")
    assert browser.resent == 0

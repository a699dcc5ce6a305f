"""With several workers each listens on a socket of its own (SO_REUSEPORT): the kernel spreads new
connections over them, where one shared socket let whichever worker woke first take a burst."""

from __future__ import annotations

import io
import socket
from collections import Counter
from multiprocessing.reduction import ForkingPickler

import pytest

from mosaic.http.server import WorkerSocket

CONNECTIONS = 64


def _in_a_worker(holder: WorkerSocket) -> socket.socket:
    """What a spawned worker gets: the supervisor's socket pickled as multiprocessing pickles it."""
    buffer = io.BytesIO()
    ForkingPickler(buffer).dump(holder)
    worker_socket: socket.socket = ForkingPickler.loads(buffer.getvalue())
    return worker_socket


def test_each_worker_gets_a_socket_of_its_own_on_the_supervisors_address() -> None:
    with WorkerSocket.hold("127.0.0.1", 0) as holder:
        address = holder.getsockname()
        first, second = _in_a_worker(holder), _in_a_worker(holder)
        with first, second:
            assert type(first) is socket.socket and type(second) is socket.socket
            assert first.getsockname() == second.getsockname() == address
            assert first.fileno() != second.fileno() != holder.fileno()
            assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1


def test_connections_are_spread_over_the_workers_sockets_not_taken_by_one() -> None:
    with WorkerSocket.hold("127.0.0.1", 0) as holder:
        listeners = [_in_a_worker(holder) for _ in range(2)]
        for listener in listeners:
            listener.listen(CONNECTIONS)
            listener.setblocking(False)
        clients = [socket.create_connection(holder.getsockname()) for _ in range(CONNECTIONS)]
        accepted: Counter[int] = Counter()
        try:
            for n, listener in enumerate(listeners):
                while True:
                    try:
                        connection, _ = listener.accept()
                    except BlockingIOError:
                        break
                    connection.close()
                    accepted[n] += 1
        finally:
            for client in clients:
                client.close()
            for listener in listeners:
                listener.close()
    assert sum(accepted.values()) == CONNECTIONS
    # by the 4-tuple hash each socket gets about half; fewer than 12 of 64 has odds below 1e-6
    assert min(accepted[0], accepted[1]) >= 12, accepted


def test_a_port_in_use_is_refused_when_the_supervisor_binds() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            WorkerSocket.hold("127.0.0.1", taken.getsockname()[1])

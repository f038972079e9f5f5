# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RequestDeadline ends a read that a peer keeps alive a byte at a time (socketpair, no network)."""

from __future__ import annotations

import socket
import threading
import time

from ansible_collections.homeserver.delegation.plugins.module_utils._deadline import RequestDeadline


def test_a_read_fed_one_byte_at_a_time_ends_at_the_deadline():
    ours, peer = socket.socketpair()
    ours.settimeout(5)  # each byte comes well within the socket timeout
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            try:
                peer.send(b"x")
            except OSError:
                return
            time.sleep(0.1)

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    received = b""
    started = time.monotonic()
    try:
        with RequestDeadline(0.5) as deadline:
            deadline.watch(ours)
            while True:
                chunk = ours.recv(1)
                if not chunk:
                    break
                received += chunk
                # Without the deadline this loop never ends; the bound only proves "no hang".
                assert time.monotonic() - started < 30, "the deadline did not end the read"
            assert deadline.expired
    finally:
        stop.set()
        ours.close()
        peer.close()
    assert received.startswith(b"x")


def test_a_request_done_in_time_is_not_expired_and_its_socket_stays_usable():
    ours, peer = socket.socketpair()
    try:
        with RequestDeadline(30) as deadline:
            deadline.watch(ours)
            peer.sendall(b"done")
            assert ours.recv(4) == b"done"
        assert not deadline.expired
        peer.sendall(b"more")
        assert ours.recv(4) == b"more"
    finally:
        ours.close()
        peer.close()


def test_a_socket_watched_after_the_deadline_is_shut_down_at_once():
    ours, peer = socket.socketpair()
    try:
        with RequestDeadline(0) as deadline:
            deadline.watch(ours)
            assert deadline.expired
            assert ours.recv(1) == b""
    finally:
        ours.close()
        peer.close()

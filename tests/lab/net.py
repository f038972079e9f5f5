"""A private slice of loopback addresses for one lab (internal to the test lab).

Each lab takes one free slot S (0-255) under an exclusive lock, and with it
127.77.S.0/24 and fd6c:6162:0:S::/64. Servers bind fixed ports (53, 443, 8008...) on
addresses of their own slot, so parallel test sessions on one machine never collide and no
port has to be guessed. IPv4 loopback needs no setup; IPv6 has only ::1 on `lo`, so the
IPv6 addresses a lab uses are added to `lo` (root, `nodad`), as are the IPv4 addresses named
listens on, and removed when the lab closes.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import socket
import subprocess
from pathlib import Path

LOCK_DIR = Path(os.environ.get('LAB_LOCK_DIR', '/tmp/homeserver-delegation-lab'))


# Ports that lab servers listen on in every slot: nginx control, BIND, Synapse.
_LAB_PORTS = ((2, 8099), (53, 53), (8, 8008))


def _leftovers_listen(slot: int) -> bool:
    for host, port in _LAB_PORTS:
        try:
            with socket.create_connection((f'127.77.{slot}.{host}', port), timeout=0.2):
                return True
        except OSError:
            pass
    return False


class LabNetwork:
    """Loopback addresses owned by one lab until close()."""

    def __init__(self, slot: int, lock_file):
        self.slot = slot
        self._lock_file = lock_file
        self._added: list[tuple[str, int]] = []

    @classmethod
    def allocate(cls) -> LabNetwork:
        """Take the first free slot (held by a file lock, released on close or exit)."""
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        first = int(os.environ.get('LAB_SLOT', '0'))
        for offset in range(256):
            slot = (first + offset) % 256
            lock_file = open(LOCK_DIR / f'slot-{slot}.lock', 'w', encoding='ascii')  # pylint: disable=consider-using-with
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock_file.close()
                continue
            if _leftovers_listen(slot):
                # A lab that was killed left servers running here; do not touch them.
                lock_file.close()
                continue
            lock_file.write(f'{os.getpid()}\n')
            lock_file.flush()
            return cls(slot, lock_file)
        raise RuntimeError(f'no free lab slot under {LOCK_DIR}')

    def ipv4(self, host: int, on_interface: bool = False) -> str:
        """127.77.<slot>.<host>.

        Any 127/8 address can be bound without set-up, but named only listens on addresses
        it finds on an interface: pass `on_interface=True` to add the address to `lo`.
        """
        if not 1 <= host <= 254:
            raise ValueError(f'host number {host} out of range 1..254')
        address = f'127.77.{self.slot}.{host}'
        if on_interface:
            self._add_to_loopback(address, 32)
        return address

    def ipv6(self, host: int) -> str:
        """fd6c:6162:0:<slot>::<host>, added to `lo` on first use."""
        if not 1 <= host <= 0xffff:
            raise ValueError(f'host number {host} out of range')
        address = str(ipaddress.IPv6Address(f'fd6c:6162:0:{self.slot:x}::{host:x}'))
        self._add_to_loopback(address, 128)
        return address

    def public_ipv6(self, host: int) -> str:
        """2001:db8:0:<slot>::<host> (a documentation range), added to `lo` on first use."""
        if not 1 <= host <= 0xffff:
            raise ValueError(f'host number {host} out of range')
        address = str(ipaddress.IPv6Address(f'2001:db8:0:{self.slot:x}::{host:x}'))
        self._add_to_loopback(address, 128)
        return address

    def _add_to_loopback(self, address: str, prefix: int) -> None:
        if any(address == added for added, _prefix in self._added):
            return
        argv = ['ip', 'addr', 'add', f'{address}/{prefix}', 'dev', 'lo']
        if prefix == 128:
            argv.append('nodad')  # usable at once, no duplicate-address detection wait
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        # Already there: left by a lab that was killed; it is ours now.
        already_there = 'File exists' in result.stderr or 'already assigned' in result.stderr
        if result.returncode != 0 and not already_there:
            raise RuntimeError(f'cannot add {address} to lo: {result.stderr.strip()}')
        self._added.append((address, prefix))

    def close(self) -> None:
        """Remove the IPv6 addresses this lab added and release the slot."""
        for address, prefix in self._added:
            subprocess.run(['ip', 'addr', 'del', f'{address}/{prefix}', 'dev', 'lo'],
                           capture_output=True, check=False)
        self._added.clear()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

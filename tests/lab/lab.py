"""One lab: a loopback slice, a CA, BIND and nginx, and Synapse on demand (internal).

Address plan inside the slot (127.77.S.0/24 and fd6c:6162:0:S::/64):

    .2    nginx control server (port 8099; tells which configuration generation is live)
    .8    Synapse's plain HTTP listener (port 8008), reached through nginx
    .53   BIND (port 53, rndc on 953)
    .54   a DNS server that never answers (start_silent_dns())
    .55   the latency DNS forwarder of the benchmarks
    .254  nothing listens there: a dead address
    .100 to .253  handed out by new_ipv4() to tests, never twice per lab
    ::100 and up  handed out by new_ipv6() (IPv6 half of the slot), never twice per lab

and, for tests that need an address the engine counts as public, 2001:db8:0:S::/64
(new_public_ipv6(); a documentation range, added to `lo` of the lab's network namespace).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .bind import Bind, SilentDnsServer
from .ca import CertificateAuthority
from .net import LabNetwork
from .nginx import Nginx
from .slow import SlowHttpsServer
from ._process import running_processes


class Lab:
    """Real BIND and nginx on a private loopback slice, with a test CA."""

    def __init__(self, directory: Path | None = None, keep: bool = False):
        self.directory = Path(directory or tempfile.mkdtemp(prefix='homeserver-delegation-lab-'))
        self.keep = keep
        self.net = LabNetwork.allocate()
        self.ca = CertificateAuthority(self.directory / 'ca')
        self.dead_address = self.net.ipv4(254)
        self.bind = Bind(self.directory / 'bind', self.net.ipv4(53, on_interface=True),
                         dead_address=self.dead_address)
        self.nginx = Nginx(self.directory / 'nginx', self.ca, self.net.ipv4(2))
        self._next_ipv4 = 100
        self._next_ipv6 = 0x100
        self._silent_dns: SilentDnsServer | None = None
        self._slow_servers: list[SlowHttpsServer] = []
        self._next_public_ipv6 = 0x100
        self._synapse = None

    # Addresses -------------------------------------------------------------------------------

    def new_ipv4(self) -> str:
        """A loopback IPv4 address no other part of this lab uses."""
        if self._next_ipv4 > 253:
            raise RuntimeError('lab IPv4 addresses exhausted (use new_ipv6())')
        self._next_ipv4 += 1
        return self.net.ipv4(self._next_ipv4 - 1)

    def new_ipv6(self) -> str:
        """A loopback IPv6 address (added to lo) no other part of this lab uses."""
        self._next_ipv6 += 1
        return self.net.ipv6(self._next_ipv6 - 1)

    def new_public_ipv6(self) -> str:
        """An address of 2001:db8:0:<slot>::/64 (added to lo), never handed out twice.

        A documentation range, so not one the engine treats as internal (loopback, private,
        link-local): with it a lab name "resolves publicly". It exists only on the loopback
        interface of the namespace the tests run in (`make integration`); nothing leaves it.
        """
        self._next_public_ipv6 += 1
        return self.net.public_ipv6(self._next_public_ipv6 - 1)

    @property
    def nameservers(self) -> list[str]:
        """For the engine's `nameservers` option (with `dns_port`)."""
        return self.bind.nameservers

    @property
    def dns_port(self) -> int:
        """For the engine's `dns_port` option."""
        return self.bind.port

    @property
    def ca_path(self) -> str:
        """For the engine's `ca_path` option: the test CA certificate."""
        return str(self.ca.ca_path)

    # Servers ---------------------------------------------------------------------------------

    def start(self) -> Lab:
        """Start BIND and nginx (with whatever zones and vhosts are defined so far)."""
        try:
            self.bind.start()
            self.nginx.start()
        except BaseException:
            self.stop()
            raise
        return self

    def reload(self) -> None:
        """Apply changed zones and vhosts to the running BIND and nginx."""
        self.bind.reload()
        self.nginx.reload()

    def start_silent_dns(self) -> str:
        """Start (once) a DNS server that never answers; returns its address (port 53)."""
        if self._silent_dns is None:
            self._silent_dns = SilentDnsServer(self.net.ipv4(54))
            self._silent_dns.start()
        return self._silent_dns.address

    def slow_https(self, name: str, address: str, **kwargs) -> SlowHttpsServer:
        """Start an HTTPS server for `name` (certificate from the lab CA) on `address` that
        answers one byte per second; see slow.SlowHttpsServer. Stopped with the lab."""
        server = SlowHttpsServer(address, self.ca.issue([name]), **kwargs).start()
        self._slow_servers.append(server)
        return server

    def synapse(self, server_name: str = 'synapse.lab.test', **kwargs):
        """Start (once per lab) a real Synapse on .8:8008; see synapse.Synapse for options."""
        if self._synapse is None:
            from .synapse import Synapse  # pylint: disable=import-outside-toplevel
            self._synapse = Synapse(self.directory / 'synapse', server_name=server_name,
                                    address=self.net.ipv4(8), **kwargs)
            self._synapse.start()
        elif self._synapse.server_name != server_name:
            raise RuntimeError(f'this lab runs Synapse as {self._synapse.server_name}, '
                               f'not {server_name}')
        return self._synapse

    def stop(self) -> None:
        """Stop every server, release the addresses; remove the files unless `keep`."""
        if self._synapse is not None:
            self._synapse.stop()
        if self._silent_dns is not None:
            self._silent_dns.stop()
        for server in self._slow_servers:
            server.stop()
        self.nginx.stop()
        self.bind.stop()
        self.net.close()
        if not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


__all__ = ['Lab', 'running_processes']

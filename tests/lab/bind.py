"""A real BIND 9 (`named`) on a loopback address (internal to the test lab).

    bind = Bind(tmp / 'bind', address='127.77.0.53')
    zone = bind.static_zone('example.test')
    zone.add_a('example.test', '127.77.0.10')
    zone.add_srv('_matrix-fed._tcp.example.test', 10, 5, 8448, 'matrix.example.test')
    dyn = bind.dynamic_zone('dyn.test')          # RFC 2136 updates signed with dyn.key
    bind.servfail_zone('broken.example.test')   # every name below it answers SERVFAIL
    bind.start()                                 # named -g; waits until every zone answers
    zone.add_aaaa('example.test', 'fd6c:6162::10'); bind.reload()
    bind.stop()

dnspython reaches it with `nameservers=[bind.address]`, port `bind.port`. `named` runs as
root in the foreground, logs to `named.log`; its configuration is checked with
named-checkconf and every static zone with named-checkzone before it is loaded.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import select
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.zone

from ._process import LabError, ManagedProcess, run


@dataclass(frozen=True)
class TsigKey:
    """A TSIG key as BIND and dnspython both need it."""

    name: str
    secret: str
    algorithm: str = 'hmac-sha256'

    def keyring(self) -> dict:
        """A dnspython keyring holding this key (for dns.update.Update(keyring=...))."""
        return dns.tsigkeyring.from_text({self.name: (self.algorithm, self.secret)})

    def named_conf(self) -> str:
        """The `key` statement for named.conf."""
        return f'key "{self.name}" {{\n  algorithm {self.algorithm};\n  secret "{self.secret}";\n}};\n'


def new_tsig_key(name: str, algorithm: str = 'hmac-sha256') -> TsigKey:
    """A fresh random TSIG key."""
    return TsigKey(name, base64.b64encode(secrets.token_bytes(32)).decode('ascii'), algorithm)


def _absolute(name: str) -> str:
    return name if name.endswith('.') else name + '.'


class Zone:
    """A zone described in Python and rendered to a zone file."""

    def __init__(self, origin: str, nameserver_address: str, ttl: int = 60):
        self.origin = origin.rstrip('.').lower()
        self.ttl = ttl
        self.nameserver_address = nameserver_address
        self.records: list[tuple[str, str, str]] = []
        self.serial = 1

    def _owner(self, name: str) -> str:
        name = name.rstrip('.')
        if name.lower() != self.origin and not name.lower().endswith('.' + self.origin):
            raise ValueError(f'{name} is not inside zone {self.origin}')
        return name + '.'

    def add(self, name: str, rtype: str, rdata: str) -> Zone:
        """Add any record, rdata in zone-file syntax (names in it must be absolute)."""
        self.records.append((self._owner(name), rtype.upper(), rdata))
        return self

    def add_a(self, name: str, address: str) -> Zone:
        """Add an A record."""
        return self.add(name, 'A', str(ipaddress.IPv4Address(address)))

    def add_aaaa(self, name: str, address: str) -> Zone:
        """Add an AAAA record."""
        return self.add(name, 'AAAA', str(ipaddress.IPv6Address(address)))

    def add_address(self, name: str, address: str) -> Zone:
        """Add an A or AAAA record, whichever the address is."""
        if ipaddress.ip_address(address).version == 4:
            return self.add_a(name, address)
        return self.add_aaaa(name, address)

    def add_cname(self, name: str, target: str) -> Zone:
        """Add a CNAME record."""
        return self.add(name, 'CNAME', _absolute(target))

    def add_srv(self, name: str, priority: int, weight: int, port: int, target: str) -> Zone:
        """Add an SRV record; target '.' means "service not available"."""
        return self.add(name, 'SRV', f'{priority} {weight} {port} {_absolute(target)}')

    def add_txt(self, name: str, text: str) -> Zone:
        """Add a TXT record."""
        return self.add(name, 'TXT', '"' + text.replace('"', '\\"') + '"')

    def add_ns(self, name: str, target: str) -> Zone:
        """Add an NS record (a delegation when `name` is below the origin)."""
        return self.add(name, 'NS', _absolute(target))

    def remove(self, name: str, rtype: str | None = None) -> Zone:
        """Remove every record of `name` (of type `rtype` only, when given)."""
        owner = self._owner(name).lower()
        self.records = [r for r in self.records
                        if not (r[0].lower() == owner and (rtype is None or r[1] == rtype.upper()))]
        return self

    def clear(self) -> Zone:
        """Remove every record (SOA and NS stay)."""
        self.records = []
        return self

    def render(self) -> str:
        """The zone file text."""
        origin = self.origin + '.'
        lines = [
            f'$TTL {self.ttl}',
            f'{origin} IN SOA ns.{origin} hostmaster.{origin} {self.serial} 3600 600 86400 {self.ttl}',
            f'{origin} IN NS ns.{origin}',
            f'ns.{origin} IN A {self.nameserver_address}',
        ]
        lines += [f'{owner} {self.ttl} IN {rtype} {rdata}' for owner, rtype, rdata in self.records]
        return '\n'.join(lines) + '\n'


class DynamicZone(Zone):
    """A zone that accepts RFC 2136 updates signed with `key` (and only with it)."""

    def __init__(self, origin: str, nameserver_address: str, key: TsigKey, ttl: int = 60):
        super().__init__(origin, nameserver_address, ttl)
        self.key = key


class Bind:
    """One `named` serving static, dynamic and deliberately broken zones."""

    def __init__(self, directory: Path, address: str, port: int = 53, control_port: int = 953,
                 dead_address: str | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.address = address
        self.port = port
        self.control_port = control_port
        # A primary that never answers, for zones that must never load (SERVFAIL).
        self.dead_address = dead_address or address
        self.zones: dict[str, Zone] = {}
        self.servfail_zones: list[str] = []
        self.extra_keys: list[TsigKey] = []
        self._rndc_key = new_tsig_key('lab-rndc-key')
        self.process = ManagedProcess(f'named {address}:{port}',
                                      ['named', '-g', '-c', str(self.directory / 'named.conf')],
                                      self.directory / 'named.log')

    @property
    def nameservers(self) -> list[str]:
        """For dnspython's `nameservers=` (use together with `port`)."""
        return [self.address]

    # Zones -----------------------------------------------------------------------------------

    def static_zone(self, origin: str, ttl: int = 60) -> Zone:
        """A zone served from a file; change it in Python, then reload()."""
        zone = Zone(origin, self.address, ttl)
        self.zones[zone.origin] = zone
        return zone

    def dynamic_zone(self, origin: str, key: TsigKey | None = None, ttl: int = 60) -> DynamicZone:
        """A zone that accepts updates signed with `key` (a new hmac-sha256 key by default)."""
        origin = origin.rstrip('.').lower()
        zone = DynamicZone(origin, self.address, key or new_tsig_key(f'{origin}.key'), ttl)
        self.zones[zone.origin] = zone
        return zone

    def add_key(self, key: TsigKey) -> TsigKey:
        """Make a key known to named without allowing it to update anything (REFUSED tests)."""
        self.extra_keys.append(key)
        return key

    def servfail_zone(self, origin: str) -> str:
        """A zone that never loads, so every query below `origin` answers SERVFAIL."""
        origin = origin.rstrip('.').lower()
        self.servfail_zones.append(origin)
        return origin

    def remove_zone(self, origin: str) -> None:
        """Forget a zone (static, dynamic or SERVFAIL); takes effect at reload()."""
        origin = origin.rstrip('.').lower()
        self.zones.pop(origin, None)
        if origin in self.servfail_zones:
            self.servfail_zones.remove(origin)

    # Configuration ---------------------------------------------------------------------------

    def _zone_file(self, zone: Zone) -> Path:
        return self.directory / f'{zone.origin}.zone'

    def _render_conf(self) -> str:
        directory = self.directory
        keys = {zone.key.name: zone.key for zone in self.zones.values() if isinstance(zone, DynamicZone)}
        keys.update({key.name: key for key in self.extra_keys})
        parts = [
            self._rndc_key.named_conf(),
            *[key.named_conf() for key in keys.values()],
            f'controls {{ inet {self.address} port {self.control_port} allow {{ {self.address}; }} '
            f'keys {{ "{self._rndc_key.name}"; }}; }};',
            f'''options {{
  directory "{directory}";
  pid-file "{directory}/named.pid";
  session-keyfile "{directory}/session.key";
  managed-keys-directory "{directory}";
  listen-on port {self.port} {{ {self.address}; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
  notify no;
  allow-transfer {{ none; }};
  querylog yes;
  minimal-responses no;
}};''',
        ]
        for zone in self.zones.values():
            update = ''
            if isinstance(zone, DynamicZone):
                update = f'  allow-update {{ key "{zone.key.name}"; }};\n'
            parts.append(f'zone "{zone.origin}" {{\n  type primary;\n  file "{self._zone_file(zone)}";\n'
                         f'{update}}};')
        for origin in self.servfail_zones:
            # A secondary whose primary never answers: never loaded, so named answers SERVFAIL.
            parts.append(f'zone "{origin}" {{\n  type secondary;\n'
                         f'  primaries {{ {self.dead_address} port 9; }};\n'
                         f'  file "{directory}/{origin}.secondary";\n}};')
        return '\n'.join(parts) + '\n'

    def _write(self, include_dynamic: bool) -> None:
        conf = self.directory / 'named.conf'
        conf.write_text(self._render_conf(), encoding='utf-8')
        conf.chmod(0o600)
        rndc_conf = self.directory / 'rndc.conf'
        rndc_conf.write_text(self._rndc_key.named_conf() + (
            f'options {{ default-key "{self._rndc_key.name}"; default-server {self.address}; '
            f'default-port {self.control_port}; }};\n'), encoding='utf-8')
        rndc_conf.chmod(0o600)
        run(['named-checkconf', str(conf)], 'named-checkconf')
        for zone in self.zones.values():
            if isinstance(zone, DynamicZone) and not include_dynamic:
                continue
            path = self._zone_file(zone)
            path.write_text(zone.render(), encoding='utf-8')
            run(['named-checkzone', '-q', zone.origin, str(path)], f'named-checkzone {zone.origin}')
            if isinstance(zone, DynamicZone):
                Path(str(path) + '.jnl').unlink(missing_ok=True)

    def rndc(self, *args: str) -> str:
        """Run rndc against this named."""
        return run(['rndc', '-c', str(self.directory / 'rndc.conf'), *args], f'rndc {" ".join(args)}')

    # Lifecycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> None:
        """Write and check the configuration, start named, wait until every zone answers."""
        self._write(include_dynamic=True)
        self.process.start()
        self.process.wait_until(self._all_zones_loaded, timeout, 'serving its zones')

    def reload(self, timeout: float = 30) -> None:
        """Apply zone changes: rewrite static zones (new serial), add/remove zones, reload.

        Dynamic zones keep what updates put in them; use reset_dynamic_zone() to empty one.
        """
        for zone in self.zones.values():
            if not isinstance(zone, DynamicZone):
                zone.serial += 1
        new_dynamic = [z for z in self.zones.values()
                       if isinstance(z, DynamicZone) and not self._zone_file(z).exists()]
        self._write(include_dynamic=False)
        for zone in new_dynamic:
            path = self._zone_file(zone)
            path.write_text(zone.render(), encoding='utf-8')
            run(['named-checkzone', '-q', zone.origin, str(path)], f'named-checkzone {zone.origin}')
        self.rndc('reconfig')
        for zone in self.zones.values():
            if not isinstance(zone, DynamicZone):
                self.rndc('reload', zone.origin)
        self.process.wait_until(self._all_zones_loaded, timeout, 'serving its reloaded zones')

    def reset_dynamic_zone(self, origin: str) -> None:
        """Throw away every update of a dynamic zone: back to its Python description."""
        zone = self.zones[origin.rstrip('.').lower()]
        served = self.query(zone.origin, 'SOA').answer[0][0].serial
        # Above whatever the updates made it, so the reloaded file is seen as newer.
        zone.serial = max(zone.serial, served) + 1
        path = self._zone_file(zone)
        self.rndc('freeze', zone.origin)
        try:
            # freeze answers before its dump of the updated zone reaches the file: writing
            # first would let the dump overwrite the reset, and thaw would load the updates
            # again. The dump is renamed into place, so the file shows the served serial once
            # it is complete (no dump at all when nothing was updated: the file has it already).
            self.process.wait_until(lambda: self._file_serial(path, zone.origin) == served, 30,
                                    f'writing {zone.origin} serial {served} to {path}')
            Path(str(path) + '.jnl').unlink(missing_ok=True)
            path.write_text(zone.render(), encoding='utf-8')
        finally:
            self.rndc('thaw', zone.origin)
        # thaw only schedules the reload: wait until the new serial is served.
        self.process.wait_until(lambda: self._serial(zone) == zone.serial, 30,
                                f'serving {zone.origin} serial {zone.serial}')

    @staticmethod
    def _file_serial(path: Path, origin: str) -> int | None:
        try:
            parsed = dns.zone.from_file(str(path), origin=origin, relativize=False)
        except (OSError, dns.exception.DNSException):
            return None
        soa = parsed.get_rdataset(parsed.origin, 'SOA')
        return soa[0].serial if soa else None

    def _serial(self, zone: Zone) -> int | None:
        answer = self.query(zone.origin, 'SOA', timeout=0.5)
        return answer.answer[0][0].serial if answer.answer else None

    def stop(self) -> None:
        """Stop named."""
        self.process.stop()

    # Queries ---------------------------------------------------------------------------------

    def query(self, name: str, rtype: str = 'A', timeout: float = 2) -> dns.message.Message:
        """Ask this named directly (for readiness checks and test set-up assertions)."""
        request = dns.message.make_query(name, dns.rdatatype.from_text(rtype))
        return dns.query.udp(request, self.address, port=self.port, timeout=timeout)

    def _all_zones_loaded(self) -> bool:
        for zone in self.zones.values():
            answer = self.query(zone.origin, 'SOA', timeout=0.5)
            if answer.rcode() != dns.rcode.NOERROR or not answer.answer:
                return False
            if answer.answer[0][0].serial != zone.serial and not isinstance(zone, DynamicZone):
                return False
        return True


class SilentDnsServer:
    """Accepts DNS queries on UDP and TCP and never answers: for timeout tests."""

    def __init__(self, address: str, port: int = 53):
        self.address = address
        self.port = port
        family = socket.AF_INET6 if ':' in address else socket.AF_INET
        self._udp = socket.socket(family, socket.SOCK_DGRAM)
        self._tcp = socket.socket(family, socket.SOCK_STREAM)
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and start swallowing queries."""
        for sock in (self._udp, self._tcp):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.address, self.port))
        self._tcp.listen(64)
        self._thread = threading.Thread(target=self._serve, name='silent-dns', daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            readable, _w, _x = select.select([self._udp, self._tcp], [], [], 0.2)
            for sock in readable:
                try:
                    if sock is self._udp:
                        sock.recvfrom(4096)
                    else:
                        # Held open, never read or answered, until stop().
                        self._held.append(sock.accept()[0])
                except OSError:
                    pass

    def stop(self) -> None:
        """Close every socket."""
        self._stopping.set()
        if self._thread:
            self._thread.join(5)
        for sock in [self._udp, self._tcp, *self._held]:
            sock.close()


def wait_for_port_free(address: str, port: int, timeout: float = 10) -> None:
    """Wait until nothing listens on address:port any more (after a stop)."""
    deadline = time.monotonic() + timeout
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    while time.monotonic() < deadline:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
                return
            except OSError:
                time.sleep(0.05)
    raise LabError(f'{address}:{port} still in use after {timeout}s')

"""A real nginx serving virtual hosts over TLS on loopback (internal to the test lab).

    nginx = Nginx(tmp / 'nginx', ca, control_address='127.77.0.2')
    site = nginx.vhost('example.test', ['127.77.0.10', 'fd6c:6162::10'])   # cert from `ca`
    site.well_known_server({'m.server': 'matrix.example.test:443'}, cache_control='max-age=600')
    site.serve('/.well-known/matrix/server', '<html>', content_type='text/html')
    site.redirect('/.well-known/matrix/server', 'https://other.test/.well-known/matrix/server', 308)
    site.status('/.well-known/matrix/server', 500)
    nginx.vhost('matrix.example.test', ['127.77.0.11']).proxy('/_matrix', 'http://127.77.0.8:8008')
    nginx.start()                          # nginx -t first, then nginx -g 'daemon off;'
    nginx.clear(); ...; nginx.reload()     # rewrite, nginx -t, SIGHUP, wait for the new config

Each vhost has its own certificate (chosen by SNI), its own listen addresses and its own
locations. Two vhosts may share a server name on different addresses (split brain). A vhost
whose name is an IP literal gets a certificate for the IP and is the default server of its
addresses, so it answers clients that send no SNI. `cert=` takes any Certificate from the CA
(expired, wrong name, self-signed). `tls=False, port=80` makes a plain HTTP vhost.
"""

from __future__ import annotations

import ipaddress
import json
import re
import signal
import os
import urllib.request
from pathlib import Path

from ._process import ManagedProcess, run
from .ca import Certificate, CertificateAuthority

CONTROL_PORT = 8099


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip('[]'))
    except ValueError:
        return False
    return True


def _listen(address: str, port: int) -> str:
    return f'[{address}]:{port}' if ':' in address else f'{address}:{port}'


def _quote(value: str) -> str:
    if re.search(r'[\x00-\x1f"\\$]', value):
        raise ValueError(f'value not supported in an nginx string: {value!r}')
    return f'"{value}"'


class VirtualHost:
    """One nginx `server` block: a name, addresses, a certificate and locations."""

    def __init__(self, nginx: Nginx, server_name: str, addresses: list[str], port: int,
                 cert: Certificate | None, tls: bool, default: bool):
        self.nginx = nginx
        self.server_name = server_name
        self.addresses = list(addresses)
        self.port = port
        self.tls = tls
        self.default = default or _is_ip(server_name)
        self.cert = cert
        self.index = nginx.next_index()
        self.root = nginx.directory / 'sites' / f'{self.index:04d}-{re.sub(r"[^A-Za-z0-9.-]", "_", server_name)}'
        self.root.mkdir(parents=True, exist_ok=True)
        self.locations: list[str] = []

    def _add(self, path: str, body: str, exact: bool = True) -> VirtualHost:
        if not path.startswith('/') or re.search(r'[\s;{}"]', path):
            raise ValueError(f'unsupported location path {path!r}')
        self.locations.append(f'    location {"= " if exact else ""}{path} {{\n{body}    }}\n')
        return self

    @staticmethod
    def _headers(headers: dict | None, cors: bool, cache_control: str | None,
                 expires: str | None) -> str:
        headers = dict(headers or {})
        if cors:
            # The CORS headers of the Matrix specification.
            headers.setdefault('Access-Control-Allow-Origin', '*')
            headers.setdefault('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS')
            headers.setdefault('Access-Control-Allow-Headers', 'X-Requested-With, Content-Type, Authorization')
        if cache_control is not None:
            headers['Cache-Control'] = cache_control
        if expires is not None:
            headers['Expires'] = expires
        return ''.join(f'        add_header {name} {_quote(value)} always;\n'
                       for name, value in headers.items())

    def serve(self, path: str, body, *, status: int = 200,
              content_type: str = 'application/json', headers: dict | None = None,
              cors: bool = False, cache_control: str | None = None,
              expires: str | None = None) -> VirtualHost:
        """Answer GET `path` with exactly these bytes (str is UTF-8 encoded) and status.

        cors: the specification's three CORS headers, and a 200 document answers the OPTIONS
        preflight with 204.
        """
        data = body.encode('utf-8') if isinstance(body, str) else bytes(body)
        file = self.root / f'body-{len(self.locations):03d}'
        file.write_bytes(data)
        directives = (f'        types {{ }}\n        default_type {_quote(content_type)};\n'
                      + self._headers(headers, cors, cache_control, expires))
        if status == 200:
            if cors:
                # The OPTIONS preflight of browsers (nginx answers a file's OPTIONS with 405).
                directives += '        if ($request_method = OPTIONS) {\n            return 204;\n        }\n'
            directives += f'        alias {file};\n'
        else:
            # A body with any status: error_page serves the file with the status of `return`.
            internal = f'/__lab_body_{len(self.locations):03d}'
            self._add(internal, f'        internal;\n{directives}        alias {file};\n')
            directives = f'        error_page {status} {internal};\n        return {status};\n'
        return self._add(path, directives)

    def json(self, path: str, document, **kwargs) -> VirtualHost:
        """Answer `path` with `document` as JSON (any JSON value, object or not)."""
        return self.serve(path, json.dumps(document), **kwargs)

    def well_known_server(self, document, **kwargs) -> VirtualHost:
        """Serve /.well-known/matrix/server; a str is taken as the m.server value."""
        if isinstance(document, str):
            document = {'m.server': document}
        return self.json('/.well-known/matrix/server', document, **kwargs)

    def well_known_client(self, base_url: str, cors: bool = True, **kwargs) -> VirtualHost:
        """Serve /.well-known/matrix/client pointing at `base_url`, with CORS unless cors=False."""
        return self.json('/.well-known/matrix/client', {'m.homeserver': {'base_url': base_url}},
                         cors=cors, **kwargs)

    def status(self, path: str, code: int, text: str | None = None) -> VirtualHost:
        """Answer `path` with this status (nginx's own error page unless `text`)."""
        if text is None:
            return self._add(path, f'        return {code};\n')
        return self._add(path, f'        default_type text/plain;\n        return {code} {_quote(text)};\n')

    def redirect(self, path: str, location: str, code: int = 301) -> VirtualHost:
        """Answer `path` with a redirect to the absolute URL `location`."""
        if code not in (301, 302, 303, 307, 308):
            raise ValueError(f'not a redirect status: {code}')
        return self._add(path, f'        return {code} {_quote(location)};\n')

    def proxy(self, prefix: str, upstream: str) -> VirtualHost:
        """Reverse-proxy `prefix` to `upstream` (http://address:port, no path) as Synapse's docs say."""
        if not re.fullmatch(r'http://[^/\s;]+', upstream):
            raise ValueError(f'upstream must be http://host:port without a path: {upstream!r}')
        return self._add(prefix, (
            f'        proxy_pass {upstream};\n'
            '        proxy_set_header X-Forwarded-For $remote_addr;\n'
            '        proxy_set_header X-Forwarded-Proto $scheme;\n'
            '        proxy_set_header Host $host:$server_port;\n'
            '        client_max_body_size 50M;\n'
            '        proxy_http_version 1.1;\n'), exact=False)

    def render(self) -> str:
        """The server block."""
        lines = ['server {\n']
        for address in self.addresses:
            options = ' ssl' if self.tls else ''
            if self.default:
                options += ' default_server'
            lines.append(f'    listen {_listen(address, self.port)}{options};\n')
        lines.append(f'    server_name {self.server_name};\n')
        if self.tls:
            lines.append(f'    ssl_certificate {self.cert.cert_path};\n'
                         f'    ssl_certificate_key {self.cert.key_path};\n')
        lines.extend(self.locations)
        lines.append('    location / {\n        return 404;\n    }\n}\n')
        return ''.join(lines)


class Nginx:
    """One nginx master with its own configuration, logs and pid file."""

    def __init__(self, directory: Path, ca: CertificateAuthority, control_address: str,
                 worker_processes: int = 1):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca = ca
        self.control_address = control_address
        self.worker_processes = worker_processes
        self.vhosts: list[VirtualHost] = []
        self.generation = 0
        self.conf_path = self.directory / 'nginx.conf'
        self.error_log = self.directory / 'error.log'
        self.process = ManagedProcess(
            f'nginx {control_address}',
            ['nginx', '-c', str(self.conf_path), '-p', str(self.directory), '-e', str(self.error_log),
             '-g', 'daemon off;'],
            self.directory / 'nginx.out',
            extra_logs=[self.error_log, self.directory / 'access.log'])
        self._certs: dict[tuple, Certificate] = {}
        self._vhost_count = 0

    def next_index(self) -> int:
        """A number for a new vhost's directory, never reused in this nginx."""
        self._vhost_count += 1
        return self._vhost_count

    def certificate_for(self, name: str) -> Certificate:
        """A good certificate for `name` (DNS name or IP literal), issued once and reused."""
        key = (name,)
        if key not in self._certs:
            bare = name.strip('[]')
            if _is_ip(bare):
                self._certs[key] = self.ca.issue(ip_addresses=[bare])
            else:
                self._certs[key] = self.ca.issue([name])
        return self._certs[key]

    def vhost(self, server_name: str, addresses, *, port: int = 443, cert: Certificate | None = None,
              tls: bool = True, default: bool = False) -> VirtualHost:
        """Add a virtual host; `cert` defaults to a good certificate for `server_name`."""
        if isinstance(addresses, str):
            addresses = [addresses]
        if tls and cert is None:
            cert = self.certificate_for(server_name)
        vhost = VirtualHost(self, server_name, addresses, port, cert, tls, default)
        self.vhosts.append(vhost)
        return vhost

    def remove(self, *vhosts: VirtualHost) -> None:
        """Forget these virtual hosts (the running nginx keeps them until reload())."""
        self.vhosts = [vhost for vhost in self.vhosts if vhost not in vhosts]

    def clear(self) -> None:
        """Forget every virtual host (the running nginx keeps them until reload())."""
        self.vhosts = []

    def render(self) -> str:
        """The whole nginx.conf."""
        directory = self.directory
        servers = ''.join(vhost.render() for vhost in self.vhosts)
        return f'''# Written by the test lab; generation {self.generation}.
user root;
worker_processes {self.worker_processes};
worker_rlimit_nofile 8192;
pid {directory}/nginx.pid;
error_log {self.error_log} info;
events {{
    worker_connections 4096;
}}
http {{
    log_format lab '$remote_addr "$ssl_server_name" "$host" "$request" $status $body_bytes_sent';
    access_log {directory}/access.log lab;
    client_body_temp_path {directory}/tmp/body;
    proxy_temp_path {directory}/tmp/proxy;
    fastcgi_temp_path {directory}/tmp/fastcgi;
    uwsgi_temp_path {directory}/tmp/uwsgi;
    scgi_temp_path {directory}/tmp/scgi;
    server_tokens off;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:lab:1m;
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 8192;
    keepalive_timeout 5;

    server {{
        listen {_listen(self.control_address, CONTROL_PORT)};
        location = /generation {{
            return 200 "{self.generation}";
        }}
    }}

{servers}}}
'''

    def _write_and_check(self) -> None:
        self.generation += 1
        (self.directory / 'tmp').mkdir(exist_ok=True)
        self.conf_path.write_text(self.render(), encoding='utf-8')
        run(['nginx', '-t', '-q', '-c', str(self.conf_path), '-p', str(self.directory),
             '-e', str(self.error_log)], 'nginx -t')

    def _serving_generation(self) -> bool:
        url = f'http://{_listen(self.control_address, CONTROL_PORT)}/generation'
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=1) as response:
            return response.read().decode() == str(self.generation)

    def start(self, timeout: float = 20) -> None:
        """Check the configuration with `nginx -t`, start nginx, wait until it serves."""
        self._write_and_check()
        self.process.start()
        self.process.wait_until(self._serving_generation, timeout, 'serving')

    def _workers(self) -> set[int]:
        path = Path(f'/proc/{self.process.pid}/task/{self.process.pid}/children')
        try:
            return {int(pid) for pid in path.read_text(encoding='ascii').split()}
        except (FileNotFoundError, ValueError):
            return set()

    def reload(self, timeout: float = 20) -> None:
        """Apply the current vhosts: check with `nginx -t`, SIGHUP, wait for the new workers.

        Returns once the old workers have exited, so no later connection meets the old
        configuration.
        """
        self._write_and_check()
        old_workers = self._workers()
        os.kill(self.process.pid, signal.SIGHUP)
        self.process.wait_until(self._serving_generation, timeout, f'serving generation {self.generation}')
        self.process.wait_until(lambda: not old_workers & self._workers(), timeout,
                                'done with its old workers')

    def stop(self) -> None:
        """Stop nginx (SIGTERM to the master and its workers)."""
        self.process.stop()

"""A real Synapse from PyPI, in its own cached virtualenv (internal to the test lab).

Synapse pins many libraries, so it never goes into the project's virtualenv. The first use on
a machine creates `.tmp/synapse-venv/<version>` in the checkout (about 20 s), exactly as:

    python3 -m venv .tmp/synapse-venv/<version>
    .tmp/synapse-venv/<version>/bin/pip install matrix-synapse==<version>

Later runs reuse it. Set LAB_SYNAPSE_VENV to use another directory and LAB_SYNAPSE_VERSION
for another version.

    synapse = Synapse(tmp / 'synapse', server_name='synapse.lab.test', address='127.77.0.8')
    synapse.start()               # generate-config, adjust, start, wait for /health
    synapse.url                   # http://127.77.0.8:8008  (put nginx's proxy() in front)
    synapse.stop()

The listener is plain HTTP with `x_forwarded: true` and the client and federation resources,
the database SQLite, and the federation IP blocklist empty (everything here is loopback).
"""

from __future__ import annotations

import fcntl
import os
import sys
import urllib.request
from pathlib import Path

import yaml

from ._process import LabError, ManagedProcess, run

# One pinned version for the lab and the Molecule image (hacking/build-images.sh).
SYNAPSE_VERSION = os.environ.get('LAB_SYNAPSE_VERSION') or (
    Path(__file__).resolve().parents[1] / 'synapse-version.txt').read_text(encoding='ascii').strip()
_CHECKOUT = Path(__file__).resolve().parents[2]


def synapse_venv(version: str = SYNAPSE_VERSION) -> Path:
    """The virtualenv holding matrix-synapse==version, created once per machine and cached."""
    venv = Path(os.environ.get('LAB_SYNAPSE_VENV') or _CHECKOUT / '.tmp' / 'synapse-venv' / version)
    python = venv / 'bin' / 'python'
    marker = venv / '.installed'
    if marker.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f'.{venv.name}.lock', 'w', encoding='ascii') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test session may be installing it right now
        if not marker.exists():
            # The interpreter behind the current venv, so that no venv is nested in another.
            base_python = getattr(sys, '_base_executable', sys.executable)
            run([base_python, '-m', 'venv', '--clear', str(venv)], 'creating the Synapse venv')
            run([str(python), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check',
                 f'matrix-synapse=={version}'], f'pip install matrix-synapse=={version}', timeout=600)
            marker.write_text(version + '\n', encoding='ascii')
    return venv


_LOG_CONFIG = {
    'version': 1,
    'formatters': {'precise': {'format': '%(asctime)s %(name)s %(levelname)s %(request)s %(message)s'}},
    'filters': {'context': {'()': 'synapse.logging.context.LoggingContextFilter', 'request': ''}},
    'handlers': {'console': {'class': 'logging.StreamHandler', 'formatter': 'precise',
                             'filters': ['context']}},
    'loggers': {'synapse.storage.SQL': {'level': 'WARNING'}},
    'root': {'level': 'INFO', 'handlers': ['console']},
    'disable_existing_loggers': False,
}


class Synapse:
    """One Synapse homeserver process."""

    def __init__(self, directory: Path, server_name: str, address: str, port: int = 8008,
                 serve_server_wellknown: bool = False, public_baseurl: str | None = None,
                 extra_config: dict | None = None, version: str = SYNAPSE_VERSION):
        self.directory = Path(directory)
        self.server_name = server_name
        self.address = address
        self.port = port
        self.serve_server_wellknown = serve_server_wellknown
        self.public_baseurl = public_baseurl
        self.extra_config = extra_config or {}
        self.version = version
        self.config_path = self.directory / 'homeserver.yaml'
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        """The plain HTTP listener, for nginx's proxy_pass."""
        host = f'[{self.address}]' if ':' in self.address else self.address
        return f'http://{host}:{self.port}'

    def _configure(self, python: Path) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.config_path.exists():
            run([str(python), '-m', 'synapse.app.homeserver', '--generate-config',
                 '--server-name', self.server_name, '--config-path', str(self.config_path),
                 '--data-directory', str(self.directory / 'data'), '--report-stats=no'],
                'synapse --generate-config', cwd=self.directory)
        config = yaml.safe_load(self.config_path.read_text(encoding='utf-8'))
        log_config = self.directory / 'log.yaml'
        log_config.write_text(yaml.safe_dump(_LOG_CONFIG), encoding='utf-8')
        config.update({
            'listeners': [{
                'port': self.port, 'bind_addresses': [self.address], 'type': 'http', 'tls': False,
                'x_forwarded': True,
                'resources': [{'names': ['client', 'federation'], 'compress': False}],
            }],
            'database': {'name': 'sqlite3', 'args': {'database': str(self.directory / 'data' / 'homeserver.db')}},
            'log_config': str(log_config),
            'report_stats': False,
            'trusted_key_servers': [],
            'suppress_key_server_warning': True,
            'federation_ip_range_blocklist': [],
            'ip_range_blocklist': [],
            'serve_server_wellknown': self.serve_server_wellknown,
            'enable_metrics': False,
        })
        if self.public_baseurl:
            config['public_baseurl'] = self.public_baseurl
        config.update(self.extra_config)
        self.config_path.write_text(yaml.safe_dump(config), encoding='utf-8')
        self.config_path.chmod(0o600)

    def _healthy(self) -> bool:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f'{self.url}/health', timeout=2) as response:
            return response.status == 200

    def start(self, timeout: float = 120) -> None:
        """Install (cached), configure, start, and wait until /health answers 200."""
        python = synapse_venv(self.version) / 'bin' / 'python'
        self._configure(python)
        env = {key: value for key, value in os.environ.items() if not key.startswith('PYTHON')}
        self.process = ManagedProcess(
            f'synapse {self.server_name} {self.url}',
            [str(python), '-m', 'synapse.app.homeserver', '--config-path', str(self.config_path)],
            self.directory / 'synapse.log', env=env, cwd=self.directory)
        self.process.start()
        self.process.wait_until(self._healthy, timeout, 'healthy')

    def stop(self) -> None:
        """Stop Synapse."""
        if self.process is not None:
            self.process.stop(timeout=20)

    def restart(self) -> None:
        """Start again after stop() (same configuration and database)."""
        if self.process is None:
            raise LabError('Synapse was never started')
        self.process.start()
        self.process.wait_until(self._healthy, 120, 'healthy again')


__all__ = ['Synapse', 'synapse_venv', 'SYNAPSE_VERSION']

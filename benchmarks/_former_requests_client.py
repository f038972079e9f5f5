"""The HTTPS GET the collection made through requests until it moved to http.client, kept here
only so that benchmarks/primitives.py can measure both in the same run (code of commit 2518355,
plugins/module_utils/_transport.py, without its per-request deadline).

Not part of the collection; needs requests (installed for the tests, tests/cores/tests.txt).
"""

from __future__ import annotations

import requests
import requests.adapters


class _PinnedAddressAdapter(requests.adapters.HTTPAdapter):
    """Sends the request to the IP address in the URL while TLS uses the given names."""

    def __init__(self, server_hostname, assert_hostname, ssl_context):
        self._server_hostname = server_hostname
        self._assert_hostname = assert_hostname
        self._ssl_context = ssl_context
        super().__init__(max_retries=0)

    def cert_verify(self, conn, url, verify, cert):
        conn.cert_reqs = 'CERT_REQUIRED' if verify else 'CERT_NONE'
        conn.ca_certs = None
        conn.ca_cert_dir = None

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs['server_hostname'] = self._server_hostname
        pool_kwargs['assert_hostname'] = self._assert_hostname
        pool_kwargs['ssl_context'] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def former_https_get(address, port, path, host_header, tls_server_name, max_bytes, ssl_context, timeout=10):
    """One GET as the former client made it: a session and an adapter per request, the body
    streamed and capped. Returns (status, body)."""
    session = requests.Session()
    session.trust_env = False
    session.mount('https://', _PinnedAddressAdapter(tls_server_name, tls_server_name, ssl_context))
    try:
        response = session.request('GET', 'https://%s:%d%s' % (address, port, path), allow_redirects=False,
                                   stream=True, timeout=timeout, verify=True,
                                   headers={'Host': host_header, 'User-Agent': 'bench', 'Accept': 'application/json'})
        try:
            chunks, total = [], 0
            for chunk in response.iter_content(chunk_size=8192):
                chunks.append(chunk)
                total += len(chunk)
                if total >= max_bytes:
                    break
            return response.status_code, b''.join(chunks)[:max_bytes]
        finally:
            response.close()
    finally:
        session.close()

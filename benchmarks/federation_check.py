"""Benchmark: federation_check over N delegated server names with 50 ms round trips.

Builds a lab of real servers on loopback (BIND, nginx with a test CA; see tests/lab/), puts
a delaying DNS forwarder and delaying TCP proxies in front (user space,
tests/lab/latency.py), then times federation_check's core (what the module runs, without
Ansible's start-up) in a separate Python process, so the relays never share its interpreter:

* once per N with all N names in one call, and
* once per N with one name alone (every name has the same chain: the critical path),

and prints a Markdown table with the ratio (target: at most 2, whatever N).

Name i (`n<i>.bench.test`) serves a well-known delegating to `hs<i>.bench.test:8448`, whose
nginx virtual host answers /_matrix/federation/v1/version and a /_matrix/key/v2/server
document signed for `n<i>.bench.test`, so every check passes and does all of its work: the
name's addresses, the well-known (also once per address), SRV look-ups, the delegated
host's addresses, then per target a TLS connection with both requests.

Run as root from the checkout (see benchmarks/README.md):
    python benchmarks/federation_check.py --names 30 500
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _checkout import use_checkout_as_collection  # noqa: E402  (beside this script)
from _cpu import CpuLedger, ledger_table  # noqa: E402

use_checkout_as_collection()

# pylint: disable=wrong-import-position
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from ansible_collections.homeserver.delegation.tests.unit.matrix_signing import (  # noqa: E402
    encode_verify_key,
    sign_json,
)

ZONE = 'bench.test'
VERSION = json.dumps({'server': {'name': 'bench', 'version': '1'}})


def build(lab, count: int, proxy_address: str) -> list[str]:
    """Zone and vhosts for `count` delegated names; every address is the delaying proxy's."""
    zone = lab.bind.static_zone(ZONE)
    origin_address = lab.new_ipv4()  # where nginx really listens, behind the proxy
    signing_key = Ed25519PrivateKey.generate()
    valid_until_ts = int((time.time() + 7 * 86400) * 1000)
    names = []
    for index in range(count):
        name, homeserver = f'n{index}.{ZONE}', f'hs{index}.{ZONE}'
        names.append(name)
        zone.add_a(name, proxy_address)
        zone.add_a(homeserver, proxy_address)
        lab.nginx.vhost(name, [origin_address]).well_known_server(homeserver + ':8448')
        keys = sign_json({'server_name': name, 'valid_until_ts': valid_until_ts, 'old_verify_keys': {},
                          'verify_keys': {'ed25519:bench': {'key': encode_verify_key(signing_key)}}},
                         name, 'ed25519:bench', signing_key)
        site = lab.nginx.vhost(homeserver, [origin_address], port=8448)
        site.serve('/_matrix/federation/v1/version', VERSION)
        site.serve('/_matrix/key/v2/server', json.dumps(keys))
    lab.nginx.worker_processes = 2
    lab.reload()
    return names, origin_address


WORKER = r'''
import json, sys, time
from ansible_collections.homeserver.delegation.plugins.module_utils._connection import transport_from_options
from ansible_collections.homeserver.delegation.plugins.module_utils._federation import federation_check
job = json.load(sys.stdin)
transport = transport_from_options(job["options"])
started, cpu_started = time.monotonic(), time.process_time()
result = federation_check(transport, job["names"], job.get("concurrency"))
finished, cpu_seconds = time.monotonic(), time.process_time() - cpu_started
failed = [name for name, report in result["servers"].items() if not report["federation_ok"]]
json.dump({"seconds": finished - started, "cpu_seconds": cpu_seconds, "failed": failed[:5], "failed_count": len(failed),
           "first": result["msg"].splitlines()[0]}, sys.stdout)
'''


def run_check(names: list[str], options: dict, concurrency: int | None) -> dict:
    """federation_check in a fresh Python process; returns its own timing."""
    job = json.dumps({'names': names, 'options': options, 'concurrency': concurrency})
    run = subprocess.run([sys.executable, '-c', WORKER], input=job, capture_output=True, text=True,
                         check=False, env=os.environ.copy())
    if run.returncode != 0:
        raise SystemExit(f'federation_check failed:\n{run.stdout}\n{run.stderr[-4000:]}')
    data = json.loads(run.stdout)
    if data['failed_count']:
        raise SystemExit(f"{data['failed_count']} name(s) failed the check, e.g. {data['failed']}: {data['first']}")
    return data


def measure(count: int, rtt: float, repeat: int, concurrency: int | None) -> dict:
    """Build the lab for `count` names, time all of them and one alone."""
    from ansible_collections.homeserver.delegation.tests.lab.lab import Lab  # pylint: disable=import-outside-toplevel
    from ansible_collections.homeserver.delegation.tests.lab.latency import (  # pylint: disable=import-outside-toplevel
        LatencyInjector,
    )
    with Lab() as lab, LatencyInjector(rtt=rtt, lifetime=1800) as latency, tempfile.TemporaryDirectory():
        proxy_address = lab.new_ipv4()
        forwarder = lab.net.ipv4(55)
        names, origin_address = build(lab, count, proxy_address)
        latency.dns_forwarder((forwarder, 53), (lab.bind.address, lab.bind.port))
        latency.tcp_proxy((proxy_address, 443), (origin_address, 443))
        latency.tcp_proxy((proxy_address, 8448), (origin_address, 8448))
        options = {'nameservers': [forwarder], 'dns_port': 53, 'ca_path': lab.ca_path, 'timeout': 30}
        run_check(names[:1], options, concurrency)  # warm-up: byte-code, caches; not counted
        single, together, cpu, chain, cpu_ledger = [], [], [], {}, {}
        for _round in range(repeat):
            queries, connections = latency.queries, latency.connections
            single.append(run_check(names[-1:], options, concurrency)['seconds'])
            chain = {'dns_queries': latency.queries - queries, 'tcp_connections': latency.connections - connections}
            with CpuLedger(lab) as ledger:
                everything = run_check(names, options, concurrency)
            cpu_ledger = dataclasses.asdict(ledger.result(everything['cpu_seconds']))
            together.append(everything['seconds'])
            cpu.append(everything['cpu_seconds'])
        return {'names': count, 'rtt_ms': rtt * 1000, 'repeat': repeat,
                'single_seconds': statistics.median(single), 'all_seconds': statistics.median(together),
                'single_round_trips': statistics.median(single) / rtt if rtt else float('nan'),
                'ratio': statistics.median(together) / statistics.median(single),
                'cpu_seconds': statistics.median(cpu),
                'chain': chain, 'cpu_ledger': cpu_ledger, 'runs': {'single': single, 'all': together, 'cpu': cpu}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--names', type=int, nargs='+', default=[30, 500])
    parser.add_argument('--rtt-ms', type=float, default=50)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--concurrency', type=int, default=None,
                        help="federation_check's concurrency option (default: the module's default)")
    parser.add_argument('--json', type=Path, help='also write the measurements here')
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit('run as root: the lab binds ports 53, 443 and 8448 on loopback addresses')
    rows = [measure(count, args.rtt_ms / 1000, args.repeat, args.concurrency) for count in args.names]
    print(f'RTT {args.rtt_ms:g} ms, median of {args.repeat} runs, concurrency {args.concurrency or "default"}, '
          f'{os.cpu_count()} CPUs\n')
    print('| names | federation_check, all names | CPU of that run | one name alone | one name in RTTs '
          '| ratio | target <= 2 |')
    print('|---:|---:|---:|---:|---:|---:|:---:|')
    for row in rows:
        print(f"| {row['names']} | {row['all_seconds'] * 1000:.0f} ms | {row['cpu_seconds'] * 1000:.0f} ms "
              f"| {row['single_seconds'] * 1000:.0f} ms | {row['single_round_trips']:.1f} | {row['ratio']:.2f} "
              f"| {'yes' if row['ratio'] <= 2 else 'NO'} |")
    print('\nWhere the CPU went while federation_check checked all names (last run):\n')
    print(ledger_table(rows, 'federation_check'))
    chain = rows[-1]['chain']
    print(f"\nOne name alone made {chain['dns_queries']} DNS queries and {chain['tcp_connections']} TCP "
          f"connections through the delaying relays.")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding='utf-8')


if __name__ == '__main__':
    main()

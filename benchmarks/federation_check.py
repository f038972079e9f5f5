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
from _cpu import CpuLedger, CpuUse, ledger_table  # noqa: E402

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
import json, resource, sys, time
job = json.load(sys.stdin)
sys.path.insert(0, job["benchmarks"])
from _floor import LibraryCalls, federation_steps, floor_per_name
from ansible_collections.homeserver.delegation.plugins.module_utils._connection import transport_from_options
from ansible_collections.homeserver.delegation.plugins.module_utils._federation import federation_check
transport = transport_from_options(job["options"])
def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
started, cpu_started, children_started = time.monotonic(), time.process_time(), children_cpu()
result = federation_check(transport, job["names"], job.get("concurrency"))
finished = time.monotonic()
# Its own CPU and that of the processes it forked to share the names (reaped before it returned).
cpu_seconds = time.process_time() - cpu_started + children_cpu() - children_started
processes = result["processes"]
# Peak RSS of all its processes at once, at most: its own and the largest child's per child.
max_rss_kib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
               + (processes - 1) * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
failed = [name for name, report in result["servers"].items() if not report["federation_ok"]]
floor = None
if job.get("direct"):
    # The libraries' floor (see _floor): discovery's calls, then one TLS connection with both
    # GETs to the target, straight to BIND and nginx.
    direct = LibraryCalls(job["direct"])
    steps = federation_steps(direct, job["origin_address"])
    floor = floor_per_name(steps, job["names"])
json.dump({"seconds": finished - started, "cpu_seconds": cpu_seconds, "processes": processes, "failed": failed[:5], "failed_count": len(failed),
           "first": result["msg"].splitlines()[0], "max_rss_kib": max_rss_kib, "floor": floor}, sys.stdout)
'''


def run_check(names: list[str], options: dict, concurrency: int | None, direct: dict | None = None,
              origin_address: str | None = None) -> dict:
    """federation_check in a fresh Python process; returns its own timing, peak RSS and (with
    ``direct``) the libraries' floor measured after it."""
    job = json.dumps({'names': names, 'options': options, 'concurrency': concurrency, 'direct': direct,
                      'origin_address': origin_address, 'benchmarks': str(Path(__file__).resolve().parent)})
    run = subprocess.run([sys.executable, '-c', WORKER], input=job, capture_output=True, text=True,
                         check=False, env=os.environ.copy())
    if run.returncode != 0:
        raise SystemExit(f'federation_check failed:\n{run.stdout}\n{run.stderr[-4000:]}')
    data = json.loads(run.stdout)
    if data['failed_count']:
        raise SystemExit(f"{data['failed_count']} name(s) failed the check, e.g. {data['failed']}: {data['first']}")
    return data


def run_synapse(names: list[str], nameserver: str, ca_path: str) -> dict:
    """Synapse's MatrixFederationAgent on the same names (benchmarks/synapse_agent.py), with the
    Python of the lab's Synapse virtualenv."""
    from ansible_collections.homeserver.delegation.tests.lab.synapse import (  # pylint: disable=import-outside-toplevel
        synapse_venv,
    )
    python = synapse_venv() / 'bin' / 'python'
    job = json.dumps({'names': names, 'nameserver': nameserver, 'dns_port': 53, 'ca_path': str(ca_path)})
    run = subprocess.run([str(python), str(Path(__file__).resolve().parent / 'synapse_agent.py')], input=job,
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f'the Synapse agent failed:\n{run.stdout}\n{run.stderr[-4000:]}')
    data = json.loads(run.stdout)
    if data['failed_count']:
        raise SystemExit(f"Synapse failed {data['failed_count']} name(s), e.g. {data['failed']}")
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
        direct = {'nameservers': [lab.bind.address], 'dns_port': lab.bind.port, 'ca_path': lab.ca_path,
                  'timeout': 30}
        run_check(names[:1], options, concurrency)  # warm-up: byte-code, caches; not counted
        run_synapse(names[:1], forwarder, lab.ca_path)
        single, together, cpu, chain, cpu_ledger, checks = [], [], [], {}, {}, []
        synapse_single, synapse_all, synapse_runs = [], [], []
        for _round in range(repeat):
            queries, connections = latency.queries, latency.connections
            single.append(run_check(names[-1:], options, concurrency)['seconds'])
            chain = {'dns_queries': latency.queries - queries, 'tcp_connections': latency.connections - connections}
            with CpuLedger(lab) as ledger:
                everything = run_check(names, options, concurrency, direct, origin_address)
            cpu_ledger = dataclasses.asdict(ledger.result(everything['cpu_seconds']))
            together.append(everything['seconds'])
            cpu.append(everything['cpu_seconds'])
            checks.append(everything)
            synapse_single.append(run_synapse(names[-1:], forwarder, lab.ca_path)['seconds'])
            synapse_runs.append(run_synapse(names, forwarder, lab.ca_path))
            synapse_all.append(synapse_runs[-1]['seconds'])
        return {'names': count, 'rtt_ms': rtt * 1000, 'repeat': repeat,
                'single_seconds': statistics.median(single), 'all_seconds': statistics.median(together),
                'single_round_trips': statistics.median(single) / rtt if rtt else float('nan'),
                'ratio': statistics.median(together) / statistics.median(single),
                'cpu_seconds': statistics.median(cpu),
                'check_cpu_ms_per_name': statistics.median(cpu) * 1000 / count,
                'floor_cpu_ms_per_name': statistics.median(run['floor']['cpu_ms_per_name'] for run in checks),
                'floor_calls_per_name': checks[-1]['floor']['calls_per_name'],
                'max_rss_kib': max(run['max_rss_kib'] for run in checks),
                'processes': checks[-1]['processes'],
                'synapse': {'single_seconds': statistics.median(synapse_single),
                            'all_seconds': statistics.median(synapse_all),
                            'cpu_seconds': statistics.median(run['cpu_seconds'] for run in synapse_runs),
                            'max_rss_kib': max(run['max_rss_kib'] for run in synapse_runs)},
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
          '| ratio | target <= 1.25 |')
    print('|---:|---:|---:|---:|---:|---:|:---:|')
    for row in rows:
        print(f"| {row['names']} | {row['all_seconds'] * 1000:.0f} ms | {row['cpu_seconds'] * 1000:.0f} ms "
              f"| {row['single_seconds'] * 1000:.0f} ms | {row['single_round_trips']:.1f} | {row['ratio']:.2f} "
              f"| {'yes' if row['ratio'] <= 1.25 else 'NO'} |")
    print('\nfederation_check against its references, same runs:\n')
    print('| names | processes | CPU per name | libraries\' floor per name (calls) | CPU ratio (target <= 1.25) | wall '
          f'| all parts\' CPU / {os.cpu_count()} CPUs | wall ratio (target <= 1.1) | peak RSS, all processes |')
    print('|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for row in rows:
        floor = CpuUse(**row['cpu_ledger']).floor
        cpu_ratio = row['check_cpu_ms_per_name'] / row['floor_cpu_ms_per_name']
        wall_ratio = row['all_seconds'] / floor
        print(f"| {row['names']} | {row['processes']} | {row['check_cpu_ms_per_name']:.2f} ms | {row['floor_cpu_ms_per_name']:.2f} ms "
              f"({row['floor_calls_per_name']:.1f}) | {cpu_ratio:.2f} {'yes' if cpu_ratio <= 1.25 else 'NO'} "
              f"| {row['all_seconds'] * 1000:.0f} ms | {floor * 1000:.0f} ms "
              f"| {wall_ratio:.2f} {'yes' if wall_ratio <= 1.1 else 'NO'} | {row['max_rss_kib'] / 1024:.1f} MiB |")
    if len(rows) >= 2:
        growth = (rows[-1]['max_rss_kib'] - rows[0]['max_rss_kib']) / (rows[-1]['names'] - rows[0]['names'])
        print(f"\nPeak RSS grows by {growth:.1f} KiB per name between {rows[0]['names']} and {rows[-1]['names']} names.")
    print("\nSynapse's MatrixFederationAgent (discovery and GET /_matrix/federation/v1/version, all names at once "
          "on one reactor), same lab and relays, same runs:\n")
    print('| names | Synapse, all names | its CPU | one name alone | ratio to its one name | peak RSS '
          '| federation_check wall / Synapse wall | federation_check CPU / Synapse CPU |')
    print('|---:|---:|---:|---:|---:|---:|---:|---:|')
    for row in rows:
        synapse = row['synapse']
        print(f"| {row['names']} | {synapse['all_seconds'] * 1000:.0f} ms | {synapse['cpu_seconds'] * 1000:.0f} ms "
              f"| {synapse['single_seconds'] * 1000:.0f} ms | {synapse['all_seconds'] / synapse['single_seconds']:.2f} "
              f"| {synapse['max_rss_kib'] / 1024:.1f} MiB | {row['all_seconds'] / synapse['all_seconds']:.2f} "
              f"| {row['cpu_seconds'] / synapse['cpu_seconds']:.2f} |")
    print('\nWhere the CPU went while federation_check checked all names (last run):\n')
    print(ledger_table(rows, 'federation_check'))
    chain = rows[-1]['chain']
    print(f"\nOne name alone made {chain['dns_queries']} DNS queries and {chain['tcp_connections']} TCP "
          f"connections through the delaying relays.")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding='utf-8')


if __name__ == '__main__':
    main()

#!/usr/bin/env bash
# Proves that podman's container networking works on this host, the way every Molecule scenario
# uses it: a network of its own, a container on it, and another container that finds the first
# by name through aardvark-dns. On a failure it names the Debian package that is missing, so a
# new machine fails here, in `make host`, and not in the middle of a scenario.
set -euo pipefail
cd "$(dirname "$0")/../.."

image=localhost/homeserver-delegation/debian12-systemd:latest
id=homeserver-delegation-netcheck-$$
network=$id
server=$id-server

log() { echo "90-podman-network-check: $*"; }
die() { echo "90-podman-network-check: $*" >&2; exit 1; }

cleanup() {
  podman rm -f -t 0 "$server" "$id-client" >/dev/null 2>&1 || true
  podman network rm -f "$network" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# What podman's network stack calls, and the package that brings it. Netavark finds its
# firewall tool on PATH; the helpers live in podman's helper directory.
missing=()
backend=$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null || echo unknown)
if [ "$backend" = netavark ]; then
  if ! command -v iptables >/dev/null && ! command -v nft >/dev/null; then
    missing+=("iptables and nftables (netavark sets up every network's NAT and filter rules with one of them)")
  fi
  found_dns=0
  for dir in /usr/libexec/podman /usr/lib/podman /usr/local/libexec/podman /usr/local/lib/podman; do
    [ -x "$dir/aardvark-dns" ] && found_dns=1
  done
  [ "$found_dns" = 1 ] || missing+=("aardvark-dns (containers find each other by name through it)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  die "podman networking cannot work on this host, missing: $(printf '%s; ' "${missing[@]}")install them (tests/apt.d/molecule.txt lists them) and run 'make host' again"
fi

explain() {
  # $1: podman's own error text. Name the package behind the errors seen on new machines.
  case "$1" in
    *nft*)
      echo "netavark could not run nft: install the Debian package nftables" ;;
    *"netavark: No such file or directory"*|*"iptables"*"not found"*)
      echo "netavark could not run its firewall tool: install the Debian packages iptables and nftables" ;;
    *aardvark*)
      echo "aardvark-dns failed: install the Debian package aardvark-dns" ;;
    *slirp4netns*)
      echo "install the Debian package slirp4netns" ;;
    *)
      echo "see the error above" ;;
  esac
}

if ! out=$(podman network create "$network" 2>&1); then
  echo "$out" >&2
  die "podman cannot create a network ($backend): $(explain "$out")"
fi
if ! out=$(podman run -d --name "$server" --network "$network" "$image" sleep 120 2>&1); then
  echo "$out" >&2
  die "podman cannot start a container on a network of its own: $(explain "$out")"
fi
# aardvark-dns answers for the network's containers by name; getent asks it through the
# resolver podman writes into the container.
answer=""
for _ in 1 2 3 4 5; do
  if answer=$(podman run --rm --name "$id-client" --network "$network" "$image" getent hosts "$server" 2>&1); then
    break
  fi
  answer="FAILED: $answer"
  sleep 1
done
case "$answer" in
  FAILED:*|"")
    echo "$answer" >&2
    die "a container cannot resolve another container's name on its network: $(explain "$answer")" ;;
esac
log "a container on network $network resolved $server: ${answer%% *}"
log "podman networking works ($backend)"

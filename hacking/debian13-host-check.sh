#!/usr/bin/env bash
# Runs `make host` (hacking/prepare-host.sh) on a fresh Debian 13 (trixie) machine, from a
# Debian 12 one: a trixie root file system made by debootstrap runs as a privileged podman
# container, with its own podman inside (podman 5, netavark built for nftables). It checks:
#   1. every package of tests/apt.d/ installs on trixie;
#   2. host preparation, the image builds, systemd as PID 1 and the network check all pass;
#   3. without nftables (which trixie's netavark needs and only recommends) the network check
#      fails and names the package.
# On demand, not in CI (about 6 minutes). Run as root: hacking/debian13-host-check.sh
#
# Two things differ from a real trixie machine and are set up for the nesting alone: the outer
# container's network gets a subnet of its own (the inner podman's default network would
# otherwise overlap the outer one), and the machine's CA bundle is mounted, as pip inside the
# image build reaches PyPI through whatever TLS the machine itself trusts.
set -euo pipefail
cd "$(dirname "$0")/.."

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
image=localhost/homeserver-delegation/check-trixie-host:latest
network=homeserver-delegation-trixie-check
subnet=${TRIXIE_CHECK_SUBNET:-10.77.0.0/24}

log() { echo "debian13-host-check: $*"; }
die() { echo "debian13-host-check: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and rootful podman need it)"
for tool in podman debootstrap git; do
  command -v "$tool" >/dev/null || die "$tool is missing: run 'make host' first"
done

work=$(mktemp -d /var/tmp/homeserver-delegation-trixie.XXXXXX)
cleanup() {
  podman rm -f -t 0 "$network-host" >/dev/null 2>&1 || true
  podman network rm -f "$network" >/dev/null 2>&1 || true
  podman image rm -f "$image" >/dev/null 2>&1 || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

log "debootstrap trixie from $mirror"
debootstrap --variant=minbase trixie "$work/rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap trixie failed"; }
tar -C "$work/rootfs" --numeric-owner -c . | podman import --change 'CMD ["/bin/bash"]' - "$image" > /dev/null
rm -rf --one-file-system "$work/rootfs"

# The committed tree, as CI would see it.
git clone --quiet "$PWD" "$work/src"
mkdir -p "$work/storage"
podman network create --subnet "$subnet" "$network" > /dev/null

run_in_trixie() {
  podman run --rm --privileged --name "$network-host" --network "$network" \
    --volume "$work/storage:/var/lib/containers" --volume "$work/src:/src" \
    --volume /etc/resolv.conf:/etc/resolv.conf:ro \
    --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca.crt:ro \
    --env PODMAN_IGNORE_CGROUPSV1_WARNING=1 \
    "$image" bash -c "$1"
}

log "make host inside a Debian 13 container"
# The packages come first, then the CA bundle the machine trusts replaces trixie's own.
# shellcheck disable=SC2016  # expanded by the shell inside the container
run_in_trixie '
  set -e
  export DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin
  apt-get -qq update && apt-get -qq install -y --no-install-recommends ca-certificates > /dev/null
  cp /etc/ssl/host-ca.crt /usr/local/share/ca-certificates/host-ca.crt
  update-ca-certificates > /dev/null
  echo "Debian $(cat /etc/debian_version)"
  cd /src && bash hacking/prepare-host.sh
  podman --version
  echo "--- without nftables:"
  apt-get -qq purge -y nftables > /dev/null
  if bash hacking/prepare-host.d/90-podman-network-check.sh 2> /tmp/check.err; then
    echo "the network check passed without nftables" >&2; exit 1
  fi
  cat /tmp/check.err
  grep -q "install the Debian package nftables" /tmp/check.err
' | grep -vE '^(Get|Selecting|Preparing|Unpacking|Setting up|Processing triggers)' ||
  die "Debian 13 host preparation failed (see above)"
log "make host works on Debian 13, and the network check names nftables when it is missing"

#!/usr/bin/env bash
# Builds the local images the Molecule scenarios run on, from Debian's packages alone (no
# container registry is needed): a Debian 12 host with python3 and systemd as PID 1, and the
# lab's DNS server on top of it. An image that already exists is kept; REBUILD=1 rebuilds.
#
#   hacking/build-images.sh            # as root
#   DEBIAN_MIRROR=http://mirror.example/debian hacking/build-images.sh
set -euo pipefail
cd "$(dirname "$0")/.."

base_image=localhost/homeserver-delegation/debian12-systemd:latest
dns_image=localhost/homeserver-delegation/debian12-bind:latest
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# What a minimal Debian server has, plus what Ansible needs to manage it and to run apt in
# check mode (python3-apt, and apt lists that are kept in the image).
base_packages=python3,python3-apt,systemd,systemd-sysv,ca-certificates,sudo,iproute2,procps,openssh-server

log() { echo "build-images: $*"; }
die() { echo "build-images: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and rootful podman need it)"
for tool in podman debootstrap; do
  command -v "$tool" >/dev/null || die "$tool is missing: run hacking/prepare-host.sh first"
done

wanted() {
  if [ "${REBUILD:-0}" = 1 ]; then
    return 0
  fi
  if podman image exists "$1"; then
    log "$1 exists, kept (REBUILD=1 rebuilds it)"
    return 1
  fi
}

# The rootfs is a scratch tree of a few hundred MB: never leave it behind.
rootfs=""
trap '[ -z "$rootfs" ] || rm -rf --one-file-system "$rootfs" "$rootfs.log"' EXIT

build_base() {
  rootfs=$(mktemp -d /var/tmp/homeserver-delegation-rootfs.XXXXXX)
  log "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase --include="$base_packages" bookworm "$rootfs" "$mirror" \
    > "$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; die "debootstrap failed"; }

  cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  rm -f "$rootfs/etc/apt/sources.list"
  # Apt lists stay in the image: a real server has them, and apt in check mode needs them.
  chroot "$rootfs" apt-get -q update > /dev/null
  chroot "$rootfs" apt-get clean
  # Each container gets its own identity, name and resolver from podman and systemd.
  : > "$rootfs/etc/machine-id"
  rm -f "$rootfs/var/lib/dbus/machine-id" "$rootfs/etc/hostname"
  : > "$rootfs/etc/resolv.conf"
  # Units that manage hardware or consoles have nothing to do in a container and would leave
  # systemd "degraded" instead of "running".
  for unit in getty.target systemd-remount-fs.service systemd-firstboot.service \
      systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service \
      sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
      sys-fs-fuse-connections.mount dev-hugepages.mount; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
  done

  log "importing $base_image"
  tar -C "$rootfs" --numeric-owner -c . | podman import \
    --change 'CMD ["/sbin/init"]' \
    --change 'STOPSIGNAL SIGRTMIN+3' \
    --change 'LABEL org.opencontainers.image.description=Debian 12 with python3 and systemd, built by hacking/build-images.sh' \
    --message "debootstrap bookworm minbase + $base_packages" \
    - "$base_image" > /dev/null
}

build_dns() {
  log "building $dns_image"
  podman build --quiet --tag "$dns_image" \
    --file hacking/images/debian12-bind.Containerfile hacking/images > /dev/null
}

start=$SECONDS
if wanted "$base_image"; then
  build_base
  # The DNS image derives from the base image: a new base means a new DNS image.
  REBUILD=1
fi
if wanted "$dns_image"; then
  build_dns
fi
log "done in $((SECONDS - start)) s"

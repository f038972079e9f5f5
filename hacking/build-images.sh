#!/usr/bin/env bash
# Builds the local images the Molecule scenarios run on, from each distribution's own archive
# alone (no container registry is needed): per platform, a host with python3 and systemd as
# PID 1, and the same host with Synapse from PyPI; for Debian 12 also the lab's DNS server.
# An image that already exists is kept; REBUILD=1 rebuilds the chosen platforms' images.
#
#   hacking/build-images.sh                                   # as root: debian12, what CI uses
#   PLATFORMS="debian13 ubuntu2404" hacking/build-images.sh   # other platforms, on demand
#   PLATFORMS=all hacking/build-images.sh                     # every platform
#   DEBIAN_MIRROR=http://mirror.example/debian hacking/build-images.sh
#
# Platforms: debian12 (bookworm), debian13 (trixie), ubuntu2204 (jammy), ubuntu2404 (noble),
# ubuntu2604 (resolute). Images: localhost/homeserver-delegation/<platform>-systemd:latest and
# <platform>-synapse:latest; debian12-bind:latest for the lab DNS server, which runs on Debian
# 12 whatever the platform under test.
set -euo pipefail
cd "$(dirname "$0")/.."

all_platforms="debian12 debian13 ubuntu2204 ubuntu2404 ubuntu2604"
platforms=${PLATFORMS:-debian12}
[ "$platforms" != all ] || platforms=$all_platforms
synapse_version=$(cat tests/synapse-version.txt)
debian_mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
debian_security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
ubuntu_mirror=${UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}
# Ubuntu's archive keyring, from the ubuntu-keyring package of Ubuntu's own archive (the
# package of 26.04, whose 2018 archive key signs every suite built here). Debian 12 has no
# such package that it trusts; the file is pinned, so a changed download is refused.
ubuntu_keyring_deb=pool/main/u/ubuntu-keyring/ubuntu-keyring_2023.11.28.1build1_all.deb
ubuntu_keyring_sha256=c377ccf26964f4c206c05c0bc7adb708e031beb919bb9a0ff63af983d064cd66
# What a minimal server has, plus what Ansible needs to manage it and to run apt in check mode
# (python3-apt, and apt lists that are kept in the image). The same on every platform.
base_packages=python3,python3-apt,systemd,systemd-sysv,ca-certificates,sudo,iproute2,procps,openssh-server

log() { echo "build-images: $*"; }
die() { echo "build-images: $*" >&2; exit 1; }

# The facts of one platform: its suite, distribution, debootstrap script and description.
platform_facts() {
  case $1 in
    debian12) suite=bookworm distro=debian script=bookworm description="Debian 12" ;;
    debian13) suite=trixie distro=debian script=trixie description="Debian 13" ;;
    # Debian 12's debootstrap knows jammy; later Ubuntu suites are made the same way, by the
    # script jammy links to (gutsy).
    ubuntu2204) suite=jammy distro=ubuntu script=gutsy description="Ubuntu 22.04 LTS" ;;
    ubuntu2404) suite=noble distro=ubuntu script=gutsy description="Ubuntu 24.04 LTS" ;;
    ubuntu2604) suite=resolute distro=ubuntu script=gutsy description="Ubuntu 26.04 LTS" ;;
    *) die "unknown platform '$1' in PLATFORMS: choose from: $all_platforms (or all)" ;;
  esac
}

# Check every name before building anything.
for platform in $platforms; do
  platform_facts "$platform"
done

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and rootful podman need it)"
for tool in podman debootstrap; do
  command -v "$tool" >/dev/null || die "$tool is missing: run hacking/prepare-host.sh first"
done

wanted() {
  if [ "${REBUILD:-0}" = 1 ] || [ "${2:-0}" = 1 ]; then
    return 0
  fi
  if podman image exists "$1"; then
    log "$1 exists, kept (REBUILD=1 rebuilds it)"
    return 1
  fi
}

# The rootfs is a scratch tree of a few hundred MB: never leave it behind.
rootfs=""
keyring_dir=""
cleanup() {
  [ -z "$rootfs" ] || rm -rf --one-file-system "$rootfs" "$rootfs.log"
  [ -z "$keyring_dir" ] || rm -rf "$keyring_dir"
}
trap cleanup EXIT

# Downloads Ubuntu's archive keyring once per run, checks it, and sets ubuntu_keyring_file.
# Not run in a command substitution: the directory must be known to the EXIT trap.
ubuntu_keyring_file=""
fetch_ubuntu_keyring() {
  [ -z "$ubuntu_keyring_file" ] || return 0
  keyring_dir=$(mktemp -d /var/tmp/homeserver-delegation-keyring.XXXXXX)
  command -v curl >/dev/null || die "curl is missing: run hacking/prepare-host.sh first"
  curl -fsS --retry 3 -o "$keyring_dir/keyring.deb" "$ubuntu_mirror/$ubuntu_keyring_deb" ||
    die "cannot download $ubuntu_mirror/$ubuntu_keyring_deb"
  echo "$ubuntu_keyring_sha256  $keyring_dir/keyring.deb" | sha256sum --check --quiet ||
    die "$ubuntu_keyring_deb does not have the pinned SHA-256 $ubuntu_keyring_sha256: refused"
  dpkg-deb -x "$keyring_dir/keyring.deb" "$keyring_dir/root"
  ubuntu_keyring_file=$keyring_dir/root/usr/share/keyrings/ubuntu-archive-keyring.gpg
}

write_sources() {
  if [ "$distro" = debian ]; then
    cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $debian_mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $debian_security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  else
    # universe holds Caddy (and HAProxy's newer versions are in main): both components, as
    # an Ubuntu server has them.
    cat > "$rootfs/etc/apt/sources.list.d/ubuntu.sources" <<SOURCES
Types: deb
URIs: $ubuntu_mirror
Suites: $suite $suite-updates $suite-security
Components: main universe
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
SOURCES
  fi
  rm -f "$rootfs/etc/apt/sources.list"
}

build_base() {
  local image=$1 mirror keyring=()
  rootfs=$(mktemp -d /var/tmp/homeserver-delegation-rootfs.XXXXXX)
  if [ "$distro" = debian ]; then
    mirror=$debian_mirror
  else
    mirror=$ubuntu_mirror
    fetch_ubuntu_keyring
    keyring=(--keyring="$ubuntu_keyring_file")
  fi
  log "debootstrap $suite from $mirror"
  debootstrap --variant=minbase "${keyring[@]}" --include="$base_packages" \
    "$suite" "$rootfs" "$mirror" "/usr/share/debootstrap/scripts/$script" \
    > "$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; die "debootstrap $suite failed"; }
  [ -s "$rootfs/usr/share/keyrings/$distro-archive-keyring.gpg" ] ||
    die "debootstrap $suite installed no /usr/share/keyrings/$distro-archive-keyring.gpg"

  write_sources
  # Apt lists stay in the image: a real server has them, and apt in check mode needs them.
  chroot "$rootfs" apt-get -q update > /dev/null
  chroot "$rootfs" apt-get clean
  # Each container gets its own identity, name and resolver from podman and systemd.
  : > "$rootfs/etc/machine-id"
  rm -f "$rootfs/var/lib/dbus/machine-id" "$rootfs/etc/hostname"
  # A symbolic link (systemd-resolved's stub, on Ubuntu) would point podman's resolver away.
  rm -f "$rootfs/etc/resolv.conf"
  : > "$rootfs/etc/resolv.conf"
  # Units that manage hardware or consoles have nothing to do in a container and would leave
  # systemd "degraded" instead of "running".
  for unit in getty.target systemd-remount-fs.service systemd-firstboot.service \
      systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service \
      sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
      sys-fs-fuse-connections.mount dev-hugepages.mount; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
  done

  # systemd 258 and later refuse to boot on a host whose cgroup layout is v1 or hybrid
  # (Ubuntu 26.04's 259 does): the label tells molecule/resources/create.yml to give such a
  # container the host's unified (v2) hierarchy there.
  # shellcheck disable=SC2016  # ${Version} is dpkg-query's field, not a shell variable
  systemd_version=$(chroot "$rootfs" dpkg-query -W -f '${Version}' systemd)
  systemd_version=${systemd_version%%[.~+-]*}

  log "importing $image (systemd $systemd_version)"
  tar -C "$rootfs" --numeric-owner -c . | podman import \
    --change 'CMD ["/sbin/init"]' \
    --change 'STOPSIGNAL SIGRTMIN+3' \
    --change "LABEL homeserver-delegation.systemd.version=$systemd_version" \
    --change "LABEL org.opencontainers.image.description=$description with python3 and systemd, built by hacking/build-images.sh" \
    --message "debootstrap $suite minbase + $base_packages" \
    - "$image" > /dev/null
  rm -rf --one-file-system "$rootfs" "$rootfs.log"
  rootfs=""
}

build_dns() {
  log "building $1"
  podman build --quiet --tag "$1" \
    --file hacking/images/debian12-bind.Containerfile hacking/images > /dev/null
}

build_synapse() {
  log "building $2 (matrix-synapse $synapse_version from PyPI)"
  # pip inside the build reaches PyPI through the host's CA bundle (see docs/molecule.md).
  podman build --quiet --tag "$2" --build-arg "BASE_IMAGE=$1" \
    --build-arg "SYNAPSE_VERSION=$synapse_version" \
    --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/host-ca.crt:ro \
    --file hacking/images/synapse.Containerfile hacking/images > /dev/null
}

start=$SECONDS
for platform in $platforms; do
  platform_facts "$platform"
  base_image=localhost/homeserver-delegation/$platform-systemd:latest
  synapse_image=localhost/homeserver-delegation/$platform-synapse:latest
  # The images derived from the base image: a new base means new ones.
  new_base=0
  if wanted "$base_image"; then
    build_base "$base_image"
    new_base=1
  fi
  if [ "$platform" = debian12 ]; then
    dns_image=localhost/homeserver-delegation/debian12-bind:latest
    if wanted "$dns_image" "$new_base"; then
      build_dns "$dns_image"
    fi
  fi
  if wanted "$synapse_image" "$new_base" ||
     [ "$(podman image inspect --format '{{ index .Labels "synapse.version" }}' "$synapse_image" 2>/dev/null)" != "$synapse_version" ]; then
    build_synapse "$base_image" "$synapse_image"
  fi
done
log "done in $((SECONDS - start)) s"

#!/usr/bin/env bash
# Makes rootful podman able to run systemd containers on this host, then builds the local images
# the Molecule scenarios use (hacking/build-images.sh, which skips existing images).
#
# Two host properties can stop podman here, and each is fixed only when detected:
#  - crun, podman's default runtime, refuses a hybrid cgroup v1/v2 layout ("cgroups in hybrid
#    mode not supported"): use runc instead.
#  - podman gives containers nofile/nproc limits above this host's hard limits, which a host
#    without CAP_SYS_RESOURCE cannot raise ("setrlimit RLIMIT_NOFILE: Operation not
#    permitted"): cap the container defaults at the host's hard limits.
# The settings go into a drop-in of our own; an existing containers.conf is never touched.
set -euo pipefail
cd "$(dirname "$0")/../.."

dropin_dir=/etc/containers/containers.conf.d
dropin=$dropin_dir/50-homeserver-delegation.conf
base_image=localhost/homeserver-delegation/debian12-systemd:latest

log() { echo "10-podman: $*"; }
die() { echo "10-podman: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (the scenarios use rootful podman)"
command -v podman >/dev/null || die "podman is missing: install tests/apt.d/molecule.txt"

hybrid_cgroups() {
  [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ] &&
    [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]
}

# Podman's defaults for rootful containers (podman 4: nofile 1048576, nproc 4194304).
can_raise() { bash -c "ulimit -H$1 $2" 2>/dev/null; }

containers_settings=()
engine_settings=()
runtime=$(podman info --format '{{.Host.OCIRuntime.Name}}')
if [ "$runtime" = crun ] && hybrid_cgroups; then
  command -v runc >/dev/null || die "crun cannot run containers on hybrid cgroups and runc is missing"
  engine_settings+=('runtime = "runc"')
fi
ulimits=()
can_raise n 1048576 || ulimits+=("\"nofile=1024:$(ulimit -Hn)\"")
# The ceiling for nproc that runc can set here is lower than the shell's hard limit (it failed
# at 65536, worked at 32768); 4096 is the value measured to work on these machines.
can_raise u 4194304 || ulimits+=("\"nproc=4096:4096\"")
if [ ${#ulimits[@]} -gt 0 ]; then
  joined=$(printf '%s, ' "${ulimits[@]}")
  containers_settings+=("default_ulimits = [${joined%, }]")
fi

if [ ${#containers_settings[@]} -eq 0 ] && [ ${#engine_settings[@]} -eq 0 ]; then
  log "podman needs no host settings here"
else
  wanted_conf=$(
    echo "# Written by hacking/prepare-host.d/10-podman.sh: settings this host needs to run"
    echo "# systemd containers. Delete this file to undo them."
    if [ ${#containers_settings[@]} -gt 0 ]; then
      echo "[containers]"; printf '%s\n' "${containers_settings[@]}"
    fi
    if [ ${#engine_settings[@]} -gt 0 ]; then
      echo "[engine]"; printf '%s\n' "${engine_settings[@]}"
    fi
  )
  if [ -f "$dropin" ] && [ "$(cat "$dropin")" = "$wanted_conf" ]; then
    log "$dropin already in place"
  else
    mkdir -p "$dropin_dir"
    printf '%s\n' "$wanted_conf" > "$dropin.tmp"
    mv "$dropin.tmp" "$dropin"
    log "wrote $dropin:"
    sed 's/^/    /' "$dropin"
  fi
  # Older podman releases ignore drop-ins: then the settings would silently not apply.
  if [ ${#engine_settings[@]} -gt 0 ] && [ "$(podman info --format '{{.Host.OCIRuntime.Name}}')" != runc ]; then
    rm -f "$dropin"
    die "this podman ignores $dropin_dir/; set the settings above in containers.conf yourself"
  fi
fi

bash hacking/build-images.sh

# Prove that the image boots systemd as PID 1 on this host, so a broken host fails here with a
# clear message instead of in every scenario.
probe=homeserver-delegation-probe-$$
trap 'podman rm -f -t 0 "$probe" >/dev/null 2>&1 || true' EXIT
podman run -d --name "$probe" --systemd=always "$base_image" >/dev/null ||
  die "podman cannot start $base_image on this host"
# Until systemd has opened its socket, systemctl cannot even ask: retry for a while.
state=unknown
for _ in $(seq 60); do
  state=$(podman exec "$probe" systemctl is-system-running --wait 2>&1 || true)
  case "$state" in running|degraded|maintenance|stopping) break ;; esac
  sleep 1
done
if [ "$state" != running ]; then
  podman exec "$probe" systemctl --failed --no-pager >&2 || true
  die "systemd in $base_image is '$state', not 'running'"
fi
log "systemd runs as PID 1 in $base_image"

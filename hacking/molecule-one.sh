#!/usr/bin/env bash
# Runs one Molecule scenario: hacking/molecule-one.sh <scenario> [molecule test options...]
#   hacking/molecule-one.sh e2e_wellknown
#   hacking/molecule-one.sh e2e_wellknown --destroy=never    # keep the lab to look around
#   WEB_SERVER=caddy hacking/molecule-one.sh web              # a scenario with variants
#   MOLECULE_PLATFORM=ubuntu2404 WEB_SERVER=nginx hacking/molecule-one.sh web   # another platform
# A scenario with a variants file (molecule/<scenario>/variants: one NAME=value per line) runs
# with one of them set in the environment; each variant gets a lab and an ephemeral directory
# of its own, so that hacking/molecule-all.sh can run several side by side.
# Other steps: run `molecule <step> -s <scenario>` from the collection root after this script
# has run once (it lays out the collection link Molecule needs).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "molecule-one: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 <scenario> [molecule test options...]"
scenario=$1
shift
if [ ! -f "molecule/$scenario/molecule.yml" ]; then
  shopt -s nullglob
  known=(molecule/*/molecule.yml)
  die "no scenario '$scenario' (molecule/$scenario/molecule.yml); known: $(printf '%s\n' "${known[@]}" | cut -d/ -f2 | tr '\n' ' ')"
fi

variants=molecule/$scenario/variants
if [ -f "$variants" ]; then
  mapfile -t choices < <(grep -Ev '^[[:space:]]*(#|$)' "$variants")
  name=${choices[0]%%=*}
  [[ "$name" =~ ^[A-Z_][A-Z0-9_]*$ ]] || die "$variants: '${choices[0]}' is not NAME=value"
  value=${!name:-}
  found=
  for choice in "${choices[@]}"; do
    [ "$choice" = "$name=$value" ] && found=1
  done
  [ -n "$found" ] || die "scenario '$scenario' runs once per $name: set $name to one of: $(printf '%s\n' "${choices[@]}" | cut -d= -f2 | tr '\n' ' ')(got '$value')"
  export "${name?}"
  export MOLECULE_LAB_VARIANT=$value
fi
# Another platform than Debian 12 (MOLECULE_PLATFORM, images of hacking/build-images.sh) is a
# lab of its own too, so the same scenario runs side by side on two platforms.
platform=${MOLECULE_PLATFORM:-debian12}
[[ "$platform" =~ ^[a-z0-9]+$ ]] || die "MOLECULE_PLATFORM must be a platform name such as debian13, got '$platform'"
if [ "$platform" != debian12 ]; then
  export MOLECULE_LAB_VARIANT=${MOLECULE_LAB_VARIANT:+$MOLECULE_LAB_VARIANT-}$platform
fi
if [ -n "${MOLECULE_LAB_VARIANT:-}" ]; then
  # Molecule names the ephemeral directory after the scenario alone (and keeps it there, in
  # ~/.ansible/tmp, like this one).
  checkout=$(printf '%s' "$PWD" | sha1sum | cut -c1-8)
  export MOLECULE_EPHEMERAL_DIRECTORY="${HOME}/.ansible/tmp/molecule.$checkout.$scenario-$MOLECULE_LAB_VARIANT"
fi

# shellcheck source=hacking/molecule-env.sh
source hacking/molecule-env.sh

if [ -z "${MOLECULE_IMAGE:-}" ] && [ "${MOLECULE_CONTAINER_ENGINE:-podman}" = podman ]; then
  for image in "localhost/homeserver-delegation/$platform-systemd:latest" \
               localhost/homeserver-delegation/debian12-bind:latest; do
    podman image exists "$image" ||
      die "image $image is missing: run PLATFORMS=\"$platform\" hacking/build-images.sh (as root), or set MOLECULE_IMAGE"
  done
fi

exec molecule test -s "$scenario" "$@"

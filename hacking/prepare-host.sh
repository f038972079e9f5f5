#!/usr/bin/env bash
# Installs the Debian packages that the tests need (listed one per line in tests/apt.d/*.txt),
# then runs hacking/prepare-host.d/*.sh in order. Safe to run again: it installs only what is
# missing. Package services are not started by apt: each test starts the servers it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "prepare-host: run as root (it installs Debian packages)" >&2
  exit 1
fi

mapfile -t wanted < <(cat tests/apt.d/*.txt | sed -e 's/#.*//' -e 's/[[:space:]]//g' | grep -v '^$' | sort -u)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "prepare-host: installing ${missing[*]}"
  # Keep apt from starting nginx, apache2, named... on install: they would take ports the
  # tests bind. An existing policy-rc.d is respected and left in place.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  trap '[ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "prepare-host: all ${#wanted[@]} Debian packages present"
fi

for step in hacking/prepare-host.d/*.sh; do
  [ -e "$step" ] || continue
  echo "prepare-host: $step"
  bash "$step"
done

#!/usr/bin/env bash
# The test lab runs named with its configuration and zones in a temporary directory. Where
# AppArmor enforces Debian's profile for named (usr.sbin.named), named may not read or write
# there, so the lab could not start. Put that one profile in complain mode. Nothing to do
# where AppArmor is not enabled (as on the project's CI machines).
set -euo pipefail

profile=/etc/apparmor.d/usr.sbin.named
if [ ! -d /sys/kernel/security/apparmor ] || [ ! -e "$profile" ]; then
  echo "lab: AppArmor not active for named, nothing to do"
  exit 0
fi
if ! grep -q '^/usr/sbin/named (enforce)' /sys/kernel/security/apparmor/profiles 2>/dev/null; then
  echo "lab: named is not confined by AppArmor, nothing to do"
  exit 0
fi
# complain mode: log what the profile would deny, deny nothing.
apparmor_parser --replace --Complain "$profile"
echo "lab: AppArmor profile of named switched to complain mode"

#!/usr/bin/env bash
# The client tests of the Molecule web scenarios (tests/clients/) run under Node.js with npm.
# nodejs is in tests/apt.d/clients.txt; Debian ships npm as a package of its own, while other
# Node.js builds (NodeSource's) bundle npm and conflict with that package. So Debian's npm is
# installed only when no npm command exists, never over another Node.js.
set -euo pipefail

if command -v npm >/dev/null; then
  echo "clients: npm $(npm --version) present, nothing to do"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends npm
echo "clients: installed Debian's npm $(npm --version)"

#!/usr/bin/env bash
# Installs the npm packages of tests/clients exactly as package-lock.json pins them (npm ci),
# unless node_modules already holds that lock file's install. Prints "installed" or "unchanged".
# No package runs an install script, and none downloads a browser: Chromium is Debian's.
set -euo pipefail
cd "$(dirname "$0")"

die() { echo "tests/clients: $*" >&2; exit 1; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  die "Node.js 20 or newer and npm are needed (tests/apt.d/clients.txt, hacking/prepare-host.d/60-node-npm.sh)"
fi
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || die "Node.js $(node --version) is too old: matrix-js-sdk needs 20 or newer"

stamp=node_modules/.package-lock.sha256
wanted=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  echo unchanged
  exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2
echo "$wanted" > "$stamp"
echo installed

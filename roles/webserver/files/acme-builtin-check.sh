# shellcheck shell=bash
# Run by tasks/acme_builtin.yml as: bash -c "<this file>" acme-builtin-check DIR SINCE UNIT NAME:PORT...
# For each NAME, compares the certificate the web server keeps from the ACME server
# (DIR/NAME/NAME.crt) with the one it serves for NAME on 127.0.0.1:PORT, by SHA-256 fingerprint.
# Exit 0: every name served with its kept certificate. Otherwise, for the first name that is not:
# the last error about NAME that the web server logged (journal of UNIT since SINCE, seconds
# since the epoch; Caddy's JSON lines of logger tls.obtain), if any, then a line
# "<state>: NAME", and exit 1 (nothing kept yet) or 2 (kept, not served yet).
set -uo pipefail
dir=$1 since=$2 unit=$3
shift 3
for name_port in "$@"; do
  name=${name_port%:*} port=${name_port##*:}
  kept=$(openssl x509 -noout -fingerprint -sha256 -in "$dir/$name/$name.crt" 2>/dev/null)
  served=$(openssl s_client -connect "127.0.0.1:$port" -servername "$name" </dev/null 2>/dev/null \
           | openssl x509 -noout -fingerprint -sha256 2>/dev/null)
  if [ -n "$kept" ] && [ "$kept" = "$served" ]; then
    continue
  fi
  journalctl --quiet --unit="$unit" --since="@$since" --output=cat 2>/dev/null \
    | grep -F '"logger":"tls.obtain"' | grep -F '"level":"error"' | grep -F "\"identifier\":\"$name\"" | tail -n 1
  if [ -z "$kept" ]; then
    echo "not obtained: $name"
    exit 1
  fi
  echo "not served: $name"
  exit 2
done

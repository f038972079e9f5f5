#!/usr/bin/env bash
# ansible-test --venv bootstraps pip with a get-pip script that it downloads from a host outside
# the package index. CI reaches only the package index, so this installs a stand-in in
# ansible-test's cache: it bootstraps pip from the interpreter's own ensurepip wheel and then
# installs the pip version ansible-test asks for from the index, with the normal pip
# configuration. An existing cached script (the real one, or ours) is left alone.
# Usage: hacking/ansible-test-offline-bootstrap.sh VENV_PYTHON
set -euo pipefail
python=${1:?usage: $0 VENV_PYTHON}

pip_version=$("$python" - <<'PY'
import re, pathlib, ansible_test
source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", source.read_text()).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
[ -e "$cache" ] && exit 0
mkdir -p "$(dirname "$cache")"
# Written aside and renamed: sanity runs of other ansible-core versions may look for it now.
partial=$(mktemp "$cache.XXXXXX")
cat > "$partial" <<'PY'
# Stand-in for get-pip.py (see hacking/ansible-test-offline-bootstrap.sh).
import ensurepip
import os
import subprocess
import sys

environment = dict(os.environ)  # ensurepip disables the pip configuration in os.environ
ensurepip.bootstrap(upgrade=True)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--quiet"] + args, env=environment))
PY
chmod 644 "$partial"
mv -f "$partial" "$cache"
echo "ansible-test-offline-bootstrap: installed a pip bootstrap stand-in at $cache"

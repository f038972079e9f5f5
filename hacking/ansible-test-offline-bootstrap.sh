#!/usr/bin/env bash
# ansible-test --venv bootstraps pip with a get-pip script from ci-files.testing.ansible.com.
# Where that host cannot be reached but the package index can (CI here), install a stand-in
# that bootstraps pip from the interpreter's own ensurepip wheel and then installs the pip
# version ansible-test asks for from the index, with the normal pip configuration.
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
if curl -fsS --max-time 10 -o /dev/null "https://ci-files.testing.ansible.com/ansible-test/get-pip-${pip_version}.py"; then
  exit 0  # ansible-test can download the real script itself
fi
mkdir -p "$(dirname "$cache")"
cat > "$cache" <<'PY'
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
echo "ansible-test-offline-bootstrap: installed a pip bootstrap stand-in at $cache"

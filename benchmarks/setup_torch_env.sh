#!/usr/bin/env bash
# Create benchmarks/.venv: NetLite (editable) plus PyTorch 2.13.0 for the side-by-side benchmark.
# PyTorch is never a dependency of the package itself; this environment is git-ignored.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
venv="$here/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import torch, netlite" 2>/dev/null; then
    "$venv/bin/pip" install --quiet -e "$root"
    "$venv/bin/pip" install --quiet "torch==2.13.0"
fi
"$venv/bin/python" -c "import torch, numpy, numba; print('benchmarks/.venv ready: torch', torch.__version__, 'numpy', numpy.__version__, 'numba', numba.__version__)"

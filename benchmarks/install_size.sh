#!/usr/bin/env bash
# What a CPU-only install of molvae weighs: a fresh virtual environment, the CPU build of torch,
# then molvae from this checkout (editable, no extras). Prints a markdown table of the sizes.
#
#   bash benchmarks/install_size.sh [VENV_DIR]      # default: a new directory under /tmp
#
# Uses the pip configuration of the machine (index URL, wheel cache); on a machine without a
# configured CPU wheel, pass PIP_INDEX_URL=https://download.pytorch.org/whl/cpu for torch.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${1:-$(mktemp -d /tmp/molvae-install-size.XXXXXX)/venv}
TORCH=${TORCH_SPEC:-torch==2.13.0}
PYTHON=${PYTHON:-python3}

"$PYTHON" -m venv "$VENV"
empty=$(du -sk "$VENV" | cut -f1)
start=$(date +%s)
"$VENV/bin/pip" install --quiet "$TORCH"
torch_done=$(du -sk "$VENV" | cut -f1)
"$VENV/bin/pip" install --quiet -e "$REPO"
total=$(du -sk "$VENV" | cut -f1)
seconds=$(( $(date +%s) - start ))
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }

echo "# install_size.sh"
echo
echo "- **Measured:** $(date -u +%Y-%m-%d)"
echo "- **Hardware:** $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(nproc) cores, $(free -g | awk '/^Mem/ { print $2 }') GB, $(uname -sm); $("$VENV/bin/python" --version)"
echo "- **Command:** \`bash benchmarks/install_size.sh\` (\`python -m venv\`, \`pip install $TORCH\`, \`pip install -e .\`; sizes by \`du -sk\` of the venv)"
echo "- **torch:** $("$VENV/bin/python" -c 'import torch; print(torch.__version__, "CUDA" if torch.version.cuda else "CPU build")')"
echo
echo "| stage | venv size |"
echo "|---|---|"
echo "| empty venv (pip only) | $(mib "$empty") |"
echo "| + torch (CPU build) | $(mib "$torch_done") |"
echo "| + molvae and its dependencies | $(mib "$total") |"
echo
echo "Largest packages in site-packages:"
echo
echo '```text'
du -sk "$site"/* | sort -rn | head -n 8 | awk '{ printf "%6.0f MiB  %s\n", $1 / 1024, $2 }' \
    | sed "s|$site/||"
echo '```'
echo
echo "Install time (from the machine's local wheel cache, not the network): ${seconds} s."
echo "nvidia packages installed: $("$VENV/bin/pip" list 2>/dev/null | grep -ci '^nvidia' || true)"

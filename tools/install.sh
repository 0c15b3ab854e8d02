#!/usr/bin/env bash
# Install distill and everything it needs into ./.venv (created if missing), or, with DISTILL_VENV=active, into
# the Python environment that is active (e.g. the conda environment of environment.yml).
#
# Order matters (see README "Installation"): torch==2.13.0 first, so that nothing later pulls a CUDA build;
# torch-fidelity and clean-fid with --no-deps, because both declare torch's image library, which would pull
# another torch build; a minimal stand-in in distill/metrics/ provides what they use of it.
# Re-running is cheap: the install is skipped when pyproject.toml has not changed since the last one.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${DISTILL_VENV:-.venv}
PYTHON=${PYTHON:-python3}
if [ "$VENV" = active ]; then
    PY="$PYTHON"
    VENV=$("$PY" -c 'import sys; print(sys.prefix)')
else
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    PY="$VENV/bin/python"
fi
STAMP="$VENV/.distill-installed"
WANT=$(cat pyproject.toml tools/install.sh | sha256sum | cut -d' ' -f1)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    exit 0
fi
PIP=("$PY" -m pip --disable-pip-version-check --quiet)
"${PIP[@]}" install --upgrade pip
"${PIP[@]}" install torch==2.13.0
"${PIP[@]}" install torch==2.13.0 -e ".[test,cluster,latent]"
"${PIP[@]}" install --no-deps torch-fidelity==0.4.0 clean-fid==0.1.35
echo "$WANT" > "$STAMP"
echo "distill installed in $VENV"

#!/usr/bin/env bash
# Create the virtualenv .venv with Python 3.11 (python3.11 if it works, else python3)
# and install jiedai into it, editable, with its dev extras: pip install -e '.[dev]'.
# Playwright's Python package brings no browser; the tests use Debian's /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=.venv
is_311='import sys; sys.exit(sys.version_info[:2] != (3, 11))'

if [[ -x $venv/bin/python ]] && ! "$venv/bin/python" -c "$is_311" 2>/dev/null; then
    echo "python-venv: $venv is not a working Python 3.11 virtualenv; recreating it"
    rm -rf "$venv"
fi

if [[ ! -x $venv/bin/python ]]; then
    python=
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "$is_311" 2>/dev/null; then
            python=$candidate
            break
        fi
    done
    if [[ -z $python ]]; then
        echo "python-venv: jiedai needs Python 3.11; neither python3.11 nor python3 is 3.11" \
            "(found: $(python3 --version 2>&1 || echo none))." >&2
        echo "python-venv: on Debian 12: apt-get install python3 python3-venv" >&2
        exit 1
    fi
    # Debian's own Python keeps venv's pip (ensurepip) in a separate package.
    if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
        bash scripts/apt-install.sh python3.11-venv
    fi
    echo "python-venv: creating $venv with $(command -v "$python") ($("$python" --version))"
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
echo "python-venv: pip install -e '.[dev]'"
"$venv/bin/python" -m pip install --quiet --progress-bar off -e '.[dev]'

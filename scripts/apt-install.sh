#!/usr/bin/env bash
# apt-install.sh PACKAGE...: install Debian packages without questions, as root or
# through sudo. Runs `apt-get update` first unless the package lists were refreshed
# in the last hour.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-install: need the Debian packages $* but there is no apt-get here" \
        "(jiedai's set-up expects Debian or Ubuntu); install them and run make again." >&2
    exit 1
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "apt-install: need root or sudo to install the Debian packages $*." >&2
        exit 1
    fi
    sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 2>/dev/null | head -n 1) ]]; then
    echo "apt-install: apt-get update"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
fi
echo "apt-install: apt-get install $*"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@" </dev/null

#!/usr/bin/env bash
# Install the npm packages of package.json (npm ci from package-lock.json, npm install
# when there is no lock) and copy the files the pages load into web/static/vendor/
# (gitignored; rebuilt by set-up, never committed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v npm >/dev/null 2>&1; then
    echo "web-assets: npm is missing; install Node.js 20 with npm (Debian: apt-get install nodejs npm)." >&2
    exit 1
fi

npm_flags=(--no-audit --no-fund --loglevel=error)
if [[ -f package-lock.json ]]; then
    echo "web-assets: npm ci"
    npm ci "${npm_flags[@]}" </dev/null
else
    echo "web-assets: npm install (no package-lock.json yet)"
    npm install "${npm_flags[@]}" </dev/null
fi

vendor=web/static/vendor

# copy_dist PACKAGE: its dist/*.production.min.js, dist/assets/ and LICENSE.
copy_dist() {
    local package=$1 src=node_modules/$1 dest=$vendor/$1
    rm -rf "$dest"
    mkdir -p "$dest"
    cp "$src"/dist/*.production.min.js "$dest"/
    cp -R "$src"/dist/assets/. "$dest"/
    cp "$src"/LICENSE "$dest"/ 2>/dev/null || true
    echo "web-assets: $package $(node -p "require('./$src/package.json').version") -> $dest/"
}

mkdir -p "$vendor"
copy_dist bpmn-js
if [[ -d node_modules/dmn-js ]]; then
    copy_dist dmn-js
fi

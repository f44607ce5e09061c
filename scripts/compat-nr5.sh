#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Node-RED 5 compatibility run. Installs Node.js 22 (the `node` npm package, which fetches the
# official binary for this platform) and Node-RED 5 into .compat/ (git-ignored), then runs the
# node tests, the examples and the installed-package test under that Node against that Node-RED
# (test/nodes/support.ts picks the runtime from NODE_RED_MODULE). Expects a build in dist/
# (npm run build). Exits non-zero when anything fails.
#
#   scripts/compat-nr5.sh            COMPAT_NODE=22 COMPAT_NODE_RED=5 by default
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=$ROOT/.compat
NODE_MAJOR=${COMPAT_NODE:-22}
NR_MAJOR=${COMPAT_NODE_RED:-5}
NODE_BIN=$DIR/node_modules/node/bin/node
NR_DIR=$DIR/node_modules/node-red

say() { printf 'compat-nr5: %s\n' "$*"; }

if [ ! -f dist/test/nodes/support.js ]; then
  say "no build in dist/: run npm run build first"
  exit 2
fi

major_of() { { sed -n 's/^[[:space:]]*"version": "\([0-9]*\)\..*/\1/p' "$1" 2>/dev/null || true; } | head -1; }
installed_node=$("$NODE_BIN" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)
installed_nr=$(major_of "$NR_DIR/package.json")
if [ "$installed_node" != "$NODE_MAJOR" ] || [ "$installed_nr" != "$NR_MAJOR" ]; then
  say "installing node@$NODE_MAJOR and node-red@$NR_MAJOR into .compat/"
  mkdir -p "$DIR"
  [ -f "$DIR/package.json" ] ||
    printf '{\n  "name": "compat-nr5",\n  "private": true\n}\n' >"$DIR/package.json"
  started=$SECONDS
  # Node-RED 5 declares node >=22.9; npm itself runs on the machine's Node, hence --engine-strict=false.
  (cd "$DIR" && npm install --no-audit --no-fund --prefer-offline --no-package-lock --engine-strict=false \
    --loglevel=error "node@$NODE_MAJOR" "node-red@$NR_MAJOR")
  say "installed in $((SECONDS - started)) s"
fi

if ! actual_node=$("$NODE_BIN" --version 2>/dev/null) || [ "${actual_node%%.*}" != "v$NODE_MAJOR" ]; then
  say "FAIL: no Node $NODE_MAJOR binary at $NODE_BIN (did npm skip the node package's install script?)"
  exit 1
fi
actual_nr=$("$NODE_BIN" -p "require('$NR_DIR/package.json').version")
say "Node-RED $actual_nr on Node $actual_node"

started=$SECONDS
set +e
NODE_RED_MODULE=$NR_DIR "$NODE_BIN" node_modules/mocha/bin/mocha.js \
  'dist/test/nodes/**/*.test.js' \
  'dist/test/examples/**/*.test.js' \
  'dist/test/ecosystem/pack.test.js'
status=$?
set -e
if [ $status -eq 0 ]; then
  say "PASS: node tests, examples and the installed package on Node-RED $actual_nr / Node $actual_node ($((SECONDS - started)) s)"
else
  say "FAIL: mocha exited $status on Node-RED $actual_nr / Node $actual_node ($((SECONDS - started)) s)"
fi
exit $status

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Compatibility run: the node tests, the examples and the installed-package test against another
# Node-RED, under another Node. Installs Node.js (the `node` npm package, which fetches the
# official binary for this platform) and Node-RED into .compat/<node>-<node-red>/ (git-ignored),
# then runs mocha with that Node against that Node-RED (test/nodes/support.ts picks the runtime
# from NODE_RED_MODULE). Expects a build in dist/ (npm run build). Exits non-zero on any failure.
#
#   COMPAT_NODE=22 COMPAT_NODE_RED=5 bash scripts/compat.sh        (the defaults)
#   COMPAT_NODE=24 COMPAT_NODE_RED=5 bash scripts/compat.sh        Node-RED 5 on the current LTS
#   COMPAT_NODE=system COMPAT_NODE_RED=4.1.0 bash scripts/compat.sh  lowest declared Node-RED, this Node
#
# COMPAT_NODE is a major version for npm's `node` package, or `system` for the Node running this
# script; COMPAT_NODE_RED is any npm version spec of node-red (a major, or an exact version).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NODE_SPEC=${COMPAT_NODE:-22}
NR_SPEC=${COMPAT_NODE_RED:-5}
DIR=$ROOT/.compat/node${NODE_SPEC}-nr${NR_SPEC}
NR_DIR=$DIR/node_modules/node-red

say() { printf 'compat[node %s, node-red %s]: %s\n' "$NODE_SPEC" "$NR_SPEC" "$*"; }

if [ ! -f dist/test/nodes/support.js ]; then
  say "no build in dist/: run npm run build first"
  exit 2
fi

packages=("node-red@$NR_SPEC")
if [ "$NODE_SPEC" = system ]; then
  NODE_BIN=$(command -v node)
else
  NODE_BIN=$DIR/node_modules/node/bin/node
  packages+=("node@$NODE_SPEC")
fi

if [ ! -f "$NR_DIR/package.json" ] || { [ "$NODE_SPEC" != system ] && [ ! -x "$NODE_BIN" ]; }; then
  say "installing ${packages[*]} into ${DIR#"$ROOT"/}"
  mkdir -p "$DIR"
  [ -f "$DIR/package.json" ] || printf '{\n  "name": "compat",\n  "private": true\n}\n' >"$DIR/package.json"
  started=$SECONDS
  # Node-RED 5 declares node >=22.9; npm itself runs on the machine's Node, hence --engine-strict=false.
  (cd "$DIR" && npm install --no-audit --no-fund --prefer-offline --no-package-lock --engine-strict=false \
    --loglevel=error "${packages[@]}")
  say "installed in $((SECONDS - started)) s"
fi

if ! actual_node=$("$NODE_BIN" --version 2>/dev/null); then
  say "FAIL: no Node binary at $NODE_BIN (did npm skip the node package's install script?)"
  exit 1
fi
if [ "$NODE_SPEC" != system ] && [ "${actual_node%%.*}" != "v$NODE_SPEC" ]; then
  say "FAIL: expected Node $NODE_SPEC, found $actual_node"
  exit 1
fi
actual_nr=$("$NODE_BIN" -p "require('$NR_DIR/package.json').version")
say "Node-RED $actual_nr on Node $actual_node"

started=$SECONDS
set +e
NODE_RED_MODULE=$NR_DIR "$NODE_BIN" node_modules/mocha/bin/mocha.js \
  'dist/test/nodes/**/*.test.js' \
  'dist/test/examples/examples.test.js' \
  'dist/test/ecosystem/pack.test.js'
status=$?
set -e
if [ $status -eq 0 ]; then
  say "PASS: node tests, examples and the installed package on Node-RED $actual_nr / Node $actual_node ($((SECONDS - started)) s)"
else
  say "FAIL: mocha exited $status on Node-RED $actual_nr / Node $actual_node ($((SECONDS - started)) s)"
fi
exit $status

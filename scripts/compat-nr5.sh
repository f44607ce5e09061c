#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Node-RED 5 compatibility run (kept for existing instructions): scripts/compat.sh with
# COMPAT_NODE=22 and COMPAT_NODE_RED=5 unless set.
set -euo pipefail
export COMPAT_NODE=${COMPAT_NODE:-22} COMPAT_NODE_RED=${COMPAT_NODE_RED:-5}
exec bash "$(dirname "$0")/compat.sh"

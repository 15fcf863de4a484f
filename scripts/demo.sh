#!/usr/bin/env bash
# Runs one real container through containerd with tsshim, from a fresh Debian 12 machine:
# installs the host packages, installs npm dependencies and builds the shim, starts a private
# containerd (its own root, state and sockets under /tmp; the host's containerd, if any, is
# not touched), imports a busybox image built from the host's static busybox, and runs
#
#   ctr run --rm --runtime io.containerd.tsshim.v2 <busybox> <id> echo hello from tsshim
#
# Everything the demo started or mounted is removed on exit, also on failure or Ctrl-C.
# Must run as root.
#
# Environment:
#   DEMO_RUNTIME   runtime name given to ctr (default io.containerd.tsshim.v2); set it to
#                  io.containerd.runc.v2 to run the same demo with containerd's own Go shim
#   DEMO_KEEP_LOG  if set, copy containerd's log to this path before cleaning up
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(dirname "$here")
runtime=${DEMO_RUNTIME:-io.containerd.tsshim.v2}
shim_name=$(cut -d. -f3 <<<"$runtime")
id="demo-$$"

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root (containerd and runc need it)"

step "Installing host packages (containerd, runc, busybox-static, …)"
"$here/install-deps.sh"

needs_shim=0
[[ $runtime == io.containerd.tsshim.v2 ]] && needs_shim=1

if ((needs_shim)); then
  step "Installing npm dependencies and building the shim"
  cd "$project"
  # Build the native addon against the host's Node headers when present instead of downloading them.
  [[ -d /usr/include/node ]] && export npm_config_nodedir=/usr
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
  npm run --silent build
fi

dir=$(mktemp -d /tmp/ctd-demo-XXXXXX)
containerd_pid=""

cleanup() {
  local status=$?
  set +e
  if [[ -n $containerd_pid ]] && kill -0 "$containerd_pid" 2>/dev/null; then
    ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1
    ctr_ tasks delete --force "$id" >/dev/null 2>&1
    ctr_ containers delete "$id" >/dev/null 2>&1
    kill -TERM "$containerd_pid"
    for _ in $(seq 50); do kill -0 "$containerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$containerd_pid" 2>/dev/null
    wait "$containerd_pid" 2>/dev/null
  fi
  [[ -n ${DEMO_KEEP_LOG:-} && -f $dir/containerd.log ]] && cp "$dir/containerd.log" "$DEMO_KEEP_LOG"
  # Innermost mounts first (mountinfo lists parents before children).
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | tac |
    while read -r mp; do umount "$mp" 2>/dev/null || umount -l "$mp"; done
  rm -rf "$dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ctr_() { ctr --address "$dir/c.sock" --namespace default "$@"; }

step "Starting a private containerd in $dir"
version=$(containerd --version | awk '{ for (i = 2; i <= NF; i++) if (match($i, /^v?[0-9]+\.[0-9]+\.[0-9]+/)) { v = substr($i, RSTART, RLENGTH); sub(/^v/, "", v); print v; exit } }')
[[ -n $version ]] || die "cannot read the containerd version"
# containerd 2.x reads config version 3; 1.x reads version 2.
config_version=2
[[ ${version%%.*} -ge 2 ]] && config_version=3
mkdir -p "$dir/tmp"
cat >"$dir/config.toml" <<EOF
version = $config_version
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.nri.v1.nri"]

[grpc]
  address = "$dir/c.sock"

[ttrpc]
  address = "$dir/c.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
EOF
# The project's bin/ goes first on containerd's PATH: that is how containerd finds
# containerd-shim-tsshim-v2 for the runtime name io.containerd.tsshim.v2.
env -i PATH="$project/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" TMPDIR="$dir/tmp" HOME=/root \
  containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 200); do
  ctr_ version >/dev/null 2>&1 && break
  kill -0 "$containerd_pid" 2>/dev/null || { cat "$dir/containerd.log" >&2; die "containerd exited"; }
  sleep 0.1
done
ctr_ version >/dev/null || { tail -30 "$dir/containerd.log" >&2; die "containerd did not start"; }
echo "containerd $version is listening on $dir/c.sock" >&2

step "Importing a busybox image built from the host's static busybox"
image_json=$(node "$here/make-busybox-image.mjs")
image_ref=$(node -e 'console.log(JSON.parse(process.argv[1]).ref)' "$image_json")
image_tar=$(node -e 'console.log(JSON.parse(process.argv[1]).imageTar)' "$image_json")
ctr_ images import "$image_tar" >/dev/null
echo "imported $image_ref" >&2

step "ctr run --rm --runtime $runtime $image_ref $id echo hello from $shim_name"
set +e
ctr_ run --rm --runtime "$runtime" "$image_ref" "$id" echo "hello from $shim_name"
status=$?
set -e
if ((status != 0)); then
  echo "ctr run exited with $status; containerd log (tail):" >&2
  tail -30 "$dir/containerd.log" >&2
  exit "$status"
fi
step "Done; cleaning up"

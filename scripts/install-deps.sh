#!/usr/bin/env bash
# Installs what the build, the integration tests and the demo need on a Debian 12 (bookworm)
# host: containerd and ctr, the OCI runtimes tsshim drives, a static busybox for test images,
# criu, the compilers and python3 node-gyp needs for the native addon, and the archive keyring
# the private apt below checks other suites' signatures with.
#
#   scripts/install-deps.sh                 install the Debian packages (idempotent, quiet)
#   scripts/install-deps.sh --containerd-releases
#                                           also unpack containerd 1.7 (trixie) and 2.x (sid)
#                                           into .cache/containerd/<suite>/ for compatibility tests,
#                                           and the CRI proto (trixie's golang-github-kubernetes-cri-api-dev)
#                                           into .cache/cri-api/ for the Kubernetes tests
#
# Must run as root. Package installs never start services: a policy-rc.d that denies every
# start is in place while apt runs, and whatever policy-rc.d existed before is put back.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(dirname "$here")
cache="$project/.cache"

PACKAGES=(containerd runc crun runsc busybox-static criu tar mount g++ make libc6-dev python3 debian-archive-keyring gpgv)
# Extra containerd releases for the compatibility matrix, by Debian suite.
RELEASE_SUITES=(trixie sid)

export DEBIAN_FRONTEND=noninteractive
APT_QUIET=(-q -y -o Dpkg::Use-Pty=0 -o APT::Color=0)

log() { printf '[install-deps] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

policy=/usr/sbin/policy-rc.d
policy_backup=""
policy_installed=0

deny_service_starts() {
  policy_backup=""
  if [[ -e $policy || -L $policy ]]; then
    policy_backup=$(mktemp)
    cp -a "$policy" "$policy_backup"
  fi
  printf '#!/bin/sh\n# temporary, written by install-deps.sh: do not start services\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  policy_installed=1
}

restore_service_policy() {
  [[ $policy_installed == 1 ]] || return 0
  if [[ -n $policy_backup ]]; then
    cp -a "$policy_backup" "$policy"
    rm -f "$policy_backup"
    policy_backup=""
  else
    rm -f "$policy"
  fi
  policy_installed=0
}

missing_packages() {
  local p status
  for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || printf '%s\n' "$p"
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    log "packages already installed: ${PACKAGES[*]}"
    return 0
  fi
  log "installing: ${missing[*]}"
  trap restore_service_policy EXIT
  deny_service_starts
  apt-get "${APT_QUIET[@]}" update >/dev/null
  apt-get "${APT_QUIET[@]}" install --no-install-recommends "${missing[@]}" >/dev/null
  restore_service_policy
  trap - EXIT
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) || die "still missing after install: ${missing[*]}"
}

# The Debian archive URL this host already uses, so that no mirror is hard-coded here.
# Reads deb822 .sources files and one-line sources.list entries; skips security and
# third-party repositories by requiring a suite named after the host's codename.
debian_mirror() {
  local codename f uri
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [[ -n $codename ]] || die "cannot tell the Debian codename from /etc/os-release"
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    uri=$(awk -v suite="$codename" '
      function flush() { if (uri != "" && suites ~ ("(^| )" suite "( |$)")) { print uri; found = 1; exit } uri = ""; suites = "" }
      /^[[:space:]]*$/ { flush(); next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { $1 = ""; suites = substr($0, 2) }
      END { if (!found) flush() }' "$f")
    [[ -n $uri ]] && { echo "${uri%/}"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    uri=$(awk -v suite="$codename" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == suite) { print $i; exit } }' "$f")
    [[ -n $uri ]] && { echo "${uri%/}"; return 0; }
  done
  die "no Debian mirror for suite '$codename' found in /etc/apt/sources.list{,.d}"
}

# apt with its own sources, lists, caches and an empty dpkg status, so that nothing the
# system's apt knows or has configured is read or changed (its apt.conf, e.g. a proxy, still
# applies). It runs as root rather than as _apt because its files live in the checkout, which
# _apt may not be allowed to write. Release files are still signature-checked, but their
# Valid-Until is not: sid's expires within days and mirrors that serve a frozen snapshot of the
# archive would otherwise be unusable for it.
private_apt() {
  local root=$1
  shift
  apt-get -q -o Dpkg::Use-Pty=0 -o APT::Color=0 \
    -o Dir::Etc::sourcelist="$root/sources.list" \
    -o Dir::Etc::sourceparts="$root/empty.d" \
    -o Dir::Etc::preferences="$root/preferences" \
    -o Dir::Etc::preferencesparts="$root/empty.d" \
    -o APT::Sandbox::User=root \
    -o Acquire::Check-Valid-Until=false \
    -o Dir::State="$root/state" \
    -o Dir::State::status="$root/status" \
    -o Dir::Cache="$root/cache" \
    -o APT::Get::List-Cleanup=0 \
    "$@"
}

# Downloads package $2 of Debian suite $1 and unpacks it (no install) into directory $3.
fetch_unpacked() {
  local suite=$1 package=$2 dest=$3 mirror root deb
  mirror=$(debian_mirror)
  root="$cache/apt/$suite"
  mkdir -p "$root/state/lists/partial" "$root/cache/archives/partial" "$root/download" "$root/empty.d"
  : >"$root/status"
  : >"$root/preferences"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$mirror" "$suite" >"$root/sources.list"
  private_apt "$root" update >/dev/null || die "apt-get update for $suite failed"
  rm -f "$root/download"/*.deb
  (cd "$root/download" && private_apt "$root" download "$package" >/dev/null) || die "downloading $package from $suite failed"
  deb=$(ls "$root/download/${package}"_*.deb)
  rm -rf "$dest.tmp"
  mkdir -p "$dest.tmp"
  dpkg -x "$deb" "$dest.tmp"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
}

# Unpacks the containerd package of a Debian suite into .cache/containerd/<suite>/; prints the
# path of its containerd binary.
fetch_containerd_release() {
  local suite=$1 dest="$cache/containerd/$1"
  if [[ -x $dest/usr/bin/containerd ]]; then
    echo "$dest/usr/bin/containerd"
    return 0
  fi
  fetch_unpacked "$suite" containerd "$dest"
  log "containerd from $suite: $("$dest/usr/bin/containerd" --version 2>&1 || echo 'does not run on this host')"
  echo "$dest/usr/bin/containerd"
}

# The CRI proto (k8s.io/cri-api runtime.v1 api.proto) the Kubernetes tests' client loads, from
# trixie's Go source package, unpacked into .cache/cri-api/.
CRI_API_SUITE=trixie
CRI_API_PROTO=usr/share/gocode/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto
fetch_cri_api() {
  local dest="$cache/cri-api"
  [[ -f $dest/$CRI_API_PROTO ]] && return 0
  fetch_unpacked "$CRI_API_SUITE" golang-github-kubernetes-cri-api-dev "$dest"
  [[ -f $dest/$CRI_API_PROTO ]] || die "no $CRI_API_PROTO in golang-github-kubernetes-cri-api-dev"
  log "CRI proto: $dest/$CRI_API_PROTO"
}

main() {
  local releases=0
  for arg in "$@"; do
    case $arg in
      --containerd-releases) releases=1 ;;
      -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
      *) die "unknown argument: $arg" ;;
    esac
  done
  [[ $(id -u) == 0 ]] || die "must run as root"
  command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian 12 only"

  install_packages
  if [[ $releases == 1 ]]; then
    for suite in "${RELEASE_SUITES[@]}"; do fetch_containerd_release "$suite" >/dev/null; done
    fetch_cri_api
  fi
}

main "$@"

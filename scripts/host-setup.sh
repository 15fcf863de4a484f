#!/usr/bin/env bash
# Host preparation so that every OCI runtime tsshim drives (runc, crun, runsc) can create
# containers on a host with the systemd "hybrid" cgroup layout (cgroup v1 controllers under
# /sys/fs/cgroup/<ctrl> plus an empty-ish cgroup v2 tree at /sys/fs/cgroup/unified).
#
#   scripts/host-setup.sh            apply (idempotent; a no-op on pure v1 or pure v2 hosts)
#   scripts/host-setup.sh --check    exit 0 if nothing needs doing, 1 otherwise
#   scripts/host-setup.sh --undo     revert what --apply did (where still possible)
#   source scripts/host-setup.sh     only defines the functions (host_setup, host_setup_check,
#                                    host_setup_undo)
#
# Must run as root.
#
# Why: crun (checked with 1.8.1) refuses every container in hybrid mode while the v2 tree
# has any controller attached:
#   "cgroups in hybrid mode not supported, drop all controllers from cgroupv2"
# It reads /sys/fs/cgroup/unified/cgroup.controllers before it looks at the cgroup manager,
# so neither `--cgroup-manager=disabled` nor any config.json field avoids it. A controller
# shows up there when no v1 hierarchy is mounted for it (e.g. hugetlb when only cpu, memory,
# ... are mounted). Mounting a v1 hierarchy for each such controller moves it back to v1,
# which leaves the v2 tree without controllers -- the layout systemd itself produces in
# hybrid mode. runc and runsc then also see the controller at its usual v1 place.
#
# This is only possible while the controller is not enabled in any v2 cgroup's
# cgroup.subtree_control (the kernel answers EBUSY); the function then says so and fails.
#
# Not a host step, but needed for runsc (gVisor) as well: its sandbox process sets up its
# chroot on $TMPDIR (Go's os.TempDir) after dropping to uid 65534, so a TMPDIR under a 0700
# directory (such as a per-test containerd dir made by mkdtemp) kills it with
#   "error setting up chroot: error mounting tmpfs in choot: failed to safely mount:
#    Open(<TMPDIR>, _, _): permission denied"
# which containerd reports as "cannot read client sync file: waiting for sandbox to start: EOF".
# Give runsc a traversable TMPDIR in the tsshim config:  [runtimes.runsc.env] TMPDIR = "/tmp"
# (the sandbox mounts a tmpfs there in its own mount namespace; the host's /tmp is untouched).

_host_setup_log() { printf '[host-setup] %s\n' "$*" >&2; }

# Prints "hybrid", "unified", "legacy" or "none" (same test crun and runc use: the file
# system types of /sys/fs/cgroup and /sys/fs/cgroup/unified).
host_cgroup_layout() {
  local top
  top=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null) || { echo none; return; }
  case "$top" in
    cgroup2fs) echo unified ;;
    tmpfs)
      if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
        echo hybrid
      else
        echo legacy
      fi
      ;;
    *) echo none ;;
  esac
}

# Controllers currently attached to the hybrid v2 tree (space separated, maybe empty).
_host_v2_controllers() {
  [ "$(host_cgroup_layout)" = hybrid ] || return 0
  cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null || true
}

# v1 name (mount option and directory) of a controller listed by cgroup v2.
_host_v1_name() {
  case "$1" in
    io) echo blkio ;; # the v2 "io" controller is "blkio" in v1
    *) echo "$1" ;;
  esac
}

host_setup_check() {
  [ -z "$(_host_v2_controllers | tr -d '[:space:]')" ]
}

host_setup() {
  [ "$(id -u)" = 0 ] || { _host_setup_log "error: must run as root"; return 1; }
  local layout ctrl name dir
  layout=$(host_cgroup_layout)
  if [ "$layout" != hybrid ]; then
    _host_setup_log "cgroup layout is $layout: nothing to do"
    return 0
  fi
  for ctrl in $(_host_v2_controllers); do
    name=$(_host_v1_name "$ctrl")
    dir=/sys/fs/cgroup/$name
    if mountpoint -q "$dir"; then
      _host_setup_log "error: $dir is already a mount point but $ctrl is still attached to cgroup v2"
      return 1
    fi
    # /sys/fs/cgroup is the tmpfs systemd mounts in hybrid mode: a directory there is harmless.
    mkdir -p "$dir"
    if ! mount -t cgroup -o "$name" cgroup "$dir"; then
      _host_setup_log "error: cannot mount a cgroup v1 hierarchy for $ctrl on $dir (is it enabled in some v2 cgroup.subtree_control?)"
      rmdir "$dir" 2>/dev/null || true
      return 1
    fi
    # Remember what this script mounted so --undo only reverts its own work.
    touch "/run/tsshim-host-setup.$name" 2>/dev/null || true
    _host_setup_log "moved cgroup controller $ctrl from v2 to a v1 hierarchy on $dir (crun refuses hybrid mode with controllers on v2)"
  done
  if ! host_setup_check; then
    _host_setup_log "error: /sys/fs/cgroup/unified/cgroup.controllers still lists: $(_host_v2_controllers)"
    return 1
  fi
  return 0
}

# Unmounts the v1 hierarchies host_setup mounted. Empty child cgroups (left by containers)
# are removed first; the kernel gives the controller back to v2 only once the hierarchy has
# no cgroups left. A cgroup that still has processes stops the undo for that controller.
host_setup_undo() {
  [ "$(id -u)" = 0 ] || { _host_setup_log "error: must run as root"; return 1; }
  local marker name dir rc=0
  for marker in /run/tsshim-host-setup.*; do
    [ -e "$marker" ] || continue
    name=${marker#/run/tsshim-host-setup.}
    dir=/sys/fs/cgroup/$name
    if mountpoint -q "$dir"; then
      # Deepest first; rmdir fails (and we report it) for cgroups that still hold processes.
      if ! find "$dir" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null; then
        if [ -n "$(find "$dir" -mindepth 1 -type d -print -quit)" ]; then
          _host_setup_log "error: $dir still has busy cgroups; not unmounting"
          rc=1
          continue
        fi
      fi
      umount "$dir" || { rc=1; continue; }
    fi
    rmdir "$dir" 2>/dev/null || true
    rm -f "$marker"
    _host_setup_log "unmounted the v1 $name hierarchy; the controller is back on cgroup v2"
  done
  return "$rc"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    '' | --apply) host_setup ;;
    --check) host_setup_check ;;
    --undo) host_setup_undo ;;
    *)
      echo "usage: $0 [--apply|--check|--undo]" >&2
      exit 2
      ;;
  esac
fi

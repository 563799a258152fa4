#!/usr/bin/env bash
# Stops the test cluster that start-cluster.sh started: slurmd, slurmctld, then munged. Safe to run twice.
set -uo pipefail

DIR="${NORMLAB_SLURM_DIR:-/var/tmp/normlab-slurm}"

stop_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$file"
}

# slurmd first: its job steps (slurmstepd) are killed with it, which a test's leftover job would otherwise outlive
if [ -f "$DIR/slurmd.pid" ] && command -v scancel >/dev/null 2>&1; then scancel --full --quiet --user=root 2>/dev/null || true; fi
stop_pidfile "$DIR/slurmd.pid"
stop_pidfile "$DIR/slurmctld.pid"
stop_pidfile /run/munge/munged.pid
echo "slurm cluster stopped"

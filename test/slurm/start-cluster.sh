#!/usr/bin/env bash
# A one-node Slurm cluster on 127.0.0.1 for the Slurm executor's tests: munged, slurmctld and slurmd as root,
# no accounting (so the executor must fall back from sacct to `scontrol show job`, as on many small clusters),
# and a GRES gpu count without device files, so `--gres=gpu:1` is really scheduled.
#
# Idempotent: when the node already answers, it does nothing. Needs root and Debian's apt (slurm-wlm, munge).
# Everything the daemons write lives under $NORMLAB_SLURM_DIR (default /var/tmp/normlab-slurm); the config is
# written to /etc/slurm/slurm.conf, the path every Slurm command reads, unless one not written by us is there.
set -euo pipefail

DIR="${NORMLAB_SLURM_DIR:-/var/tmp/normlab-slurm}"
CONF_DIR=/etc/slurm
MARK='# written by normlab test/slurm/start-cluster.sh'
t0=$(date +%s.%N)

if [ "$(id -u)" != 0 ]; then
  echo "start-cluster.sh: must run as root (it starts munged, slurmctld and slurmd)" >&2
  exit 1
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge >/dev/null
fi

node_state() { sinfo -h -N -n localhost -o '%T' 2>/dev/null | head -1; }

if [ -f "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null \
   && [ -f "$DIR/slurmd.pid" ] && kill -0 "$(cat "$DIR/slurmd.pid")" 2>/dev/null \
   && [[ "$(node_state)" =~ ^(idle|mixed|allocated) ]]; then
  echo "slurm cluster already up (node localhost: $(node_state))"
  exit 0
fi

if [ -f "$CONF_DIR/slurm.conf" ] && ! grep -qF "$MARK" "$CONF_DIR/slurm.conf"; then
  echo "start-cluster.sh: $CONF_DIR/slurm.conf exists and was not written by this script; refusing to replace it" >&2
  exit 1
fi

mkdir -p "$DIR"/{state,spool,log} "$CONF_DIR"
# the daemons of an earlier start that half-failed would hold the ports
"$(dirname "$0")/stop-cluster.sh" >/dev/null 2>&1 || true

# munge: its key comes with the package; the socket dir is on /run, which a container may have emptied
mkdir -p /run/munge
chown munge:munge /run/munge
chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
fi
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n >/dev/null || { echo "start-cluster.sh: munged did not start (see /var/log/munge/munged.log)" >&2; exit 1; }
fi

CPUS=$(nproc)
# leave the node some memory headroom over what jobs may ask for; memory is not a consumable here anyway
MEM=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 9 / 10 ))

cat > "$CONF_DIR/slurm.conf" <<EOF
$MARK
ClusterName=normlab-test
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
ReturnToService=2
MpiDefault=none
# without accounting, \`scontrol show job\` is the only record of how a job ended: keep ended jobs 10 minutes
MinJobAge=600
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
# Slurm 22.05 drops a gpu GRES that has no File= ("Removing file-less GPU"), so each "GPU" is a character device
# with /dev/null's numbers: scheduling of --gres=gpu:N is real, and no hardware is behind it
mkdir -p "$DIR/dev"
for i in 0 1; do [ -c "$DIR/dev/gpu$i" ] || { rm -f "$DIR/dev/gpu$i"; mknod "$DIR/dev/gpu$i" c 1 3; }; done
cat > "$CONF_DIR/gres.conf" <<EOF
$MARK
NodeName=localhost Name=gpu File=$DIR/dev/gpu[0-1]
EOF

# -c: a fresh cluster each start; a node state saved by an earlier, broken start (drained, invalid) would stick
/usr/sbin/slurmctld -c
/usr/sbin/slurmd -N localhost

for _ in $(seq 150); do
  state=$(node_state)
  [ "$state" = idle ] && break
  sleep 0.2
done
if [ "$(node_state)" != idle ]; then
  echo "start-cluster.sh: node localhost is '$(node_state)', not idle; logs in $DIR/log" >&2
  tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
  exit 1
fi

# prove it runs a job (with a GRES request) before anyone relies on it
probe="$DIR/probe.out"
rm -f "$probe"
job=$(sbatch --parsable --gres=gpu:1 --time=1 --output="$probe" --wrap 'echo "ran on $(hostname)"')
for _ in $(seq 150); do
  grep -q '^ran on' "$probe" 2>/dev/null && break
  sleep 0.2
done
if ! grep -q '^ran on' "$probe" 2>/dev/null; then
  echo "start-cluster.sh: probe job $job did not run within 30 s:" >&2
  scontrol show job "$job" >&2 || true
  exit 1
fi
t1=$(date +%s.%N)
awk -v j="$job" -v a="$t0" -v b="$t1" 'BEGIN { printf "slurm cluster up: node localhost idle, probe job %s ran (%.1f s)\n", j, b - a }'

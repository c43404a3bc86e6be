#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine (for CI and local testing).
#
#   .ci/slurm/start-slurm.sh            # install if needed, configure, start, smoke-test
#   SLURM_LAB=/some/dir .ci/slurm/start-slurm.sh
#
# Everything (config, munge key and socket, state, logs, pid files) lives under
# $SLURM_LAB (default /tmp/msc-slurm). The only change outside it is the symlink
# /etc/slurm/slurm.conf -> $SLURM_LAB/etc/slurm.conf: the snakemake jobstep plugin
# strips SLURM_CONF from the environment before it calls srun inside a job, so the
# config must be found at the default path.
#
# Idempotent: daemons that already run (checked through their pid files) are left
# alone; if the generated slurm.conf changed, slurmctld and slurmd are restarted.
# No systemd is needed: every daemon is started by hand. Needs root.
# Stop with .ci/slurm/stop-slurm.sh [--purge].
#
# Accounting (slurmdbd) is not set up: use `slurm-status-command: squeue` with it.

set -Eeuo pipefail

readonly PACKAGES=(munge slurm-client slurmctld slurmd)
readonly PARTITION=debug
readonly WAIT_SECONDS=${SLURM_START_TIMEOUT:-30}
readonly SMOKE_TIMEOUT=60
readonly CLUSTER_NAME=lab

LAB=${SLURM_LAB:-/tmp/msc-slurm}
START_TIME=$SECONDS

log() { printf '[start-slurm %3ds] %s\n' "$((SECONDS - START_TIME))" "$*"; }

die() {
    printf '[start-slurm] ERROR: %s\n' "$1" >&2
    local f
    for f in "${@:2}"; do
        if [[ -s $f ]]; then
            printf '[start-slurm] --- last lines of %s ---\n' "$f" >&2
            tail -n 20 "$f" >&2
        fi
    done
    exit 1
}

trap 'die "unexpected failure at line $LINENO (exit code $?): $BASH_COMMAND"' ERR

usage() {
    sed -n '2,18s/^# \{0,1\}//p' "$0"
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) die "unknown argument '$1' (try --help)" ;;
esac

[[ $(id -u) -eq 0 ]] || die "must run as root (the daemons run as root, munged as user munge)"
[[ $LAB == /* ]] || die "SLURM_LAB must be an absolute path, got '$LAB'"
[[ $LAB != / ]] || die "SLURM_LAB must not be /"

# ---------------------------------------------------------------- packages
missing_packages() {
    local p status
    for p in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || printf '%s\n' "$p"
    done
}

mapfile -t missing < <(missing_packages)
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "packages missing (${missing[*]}) and apt-get not found"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 -qq update ||
        die "apt-get update failed"
    apt-get -o DPkg::Lock::Timeout=600 -qq install -y --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed"
fi
for cmd in munged slurmctld slurmd srun sinfo scontrol; do
    command -v "$cmd" >/dev/null || die "'$cmd' not found after installing ${PACKAGES[*]}"
done
MUNGED=$(command -v munged)

# Hosts where the package scripts start the distro services (systemd running, no
# policy-rc.d): stop them so they do not hold the SLURM ports. Not needed in containers.
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    for unit in slurmd slurmctld munge; do
        if systemctl is-active --quiet "$unit"; then
            log "stopping distro service $unit (this script runs its own)"
            systemctl stop "$unit" || die "could not stop distro service $unit"
        fi
    done
fi

# ---------------------------------------------------------------- layout
ETC=$LAB/etc
RUN=$LAB/run
LOGDIR=$LAB/log
MUNGE=$LAB/munge
CONF=$ETC/slurm.conf
MUNGE_SOCKET=$MUNGE/run/munge.socket.2
MUNGE_KEY=$MUNGE/etc/munge.key
MUNGED_PID=$MUNGE/run/munged.pid
CTLD_PID=$RUN/slurmctld.pid
SLURMD_PID=$RUN/slurmd.pid
CTLD_LOG=$LOGDIR/slurmctld.log
SLURMD_LOG=$LOGDIR/slurmd.log
MUNGED_LOG=$MUNGE/log/munged.log

mkdir -p "$LAB" "$ETC" "$RUN" "$LOGDIR" "$LAB/state/ctld" "$LAB/state/d" \
    "$MUNGE/etc" "$MUNGE/run" "$MUNGE/log" "$MUNGE/lib"
# marker: stop-slurm.sh --purge only deletes a directory that carries it
touch "$LAB/.msc-slurm-lab"
# munged refuses keys, sockets and logs in directories others can write to
chmod 0755 "$LAB" "$MUNGE"
chown munge:munge "$MUNGE/etc" "$MUNGE/run" "$MUNGE/log" "$MUNGE/lib"
chmod 0700 "$MUNGE/etc" "$MUNGE/lib" "$MUNGE/log"
chmod 0755 "$MUNGE/run"

# ---------------------------------------------------------------- pid helpers
# pid_of FILE NAME: print the pid in FILE if that process is alive and is NAME
pid_of() {
    local pid comm
    [[ -s $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$2" ]] || return 1
    printf '%s\n' "$pid"
}

# wait_pid_file FILE NAME LOG: the pid file appears only after the daemon forked
wait_pid_file() {
    local i
    for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
        if pid_of "$1" "$2" >/dev/null; then
            log "$2 running (pid $(pid_of "$1" "$2"))"
            return 0
        fi
        sleep 0.1
    done
    die "$2 did not start within ${WAIT_SECONDS}s (no live pid in $1)" "$3"
}

# stop_daemon FILE NAME: SIGTERM the pid from FILE, wait, SIGKILL after 30 s
stop_daemon() {
    local pid i
    pid=$(pid_of "$1" "$2") || return 0
    log "stopping $2 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        [[ -d /proc/$pid ]] || { rm -f "$1"; return 0; }
        sleep 0.1
    done
    log "$2 (pid $pid) ignored SIGTERM for 30 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
    rm -f "$1"
}

# ---------------------------------------------------------------- munge key
KEY_CREATED=0
if [[ ! -s $MUNGE_KEY ]]; then
    log "creating munge key $MUNGE_KEY"
    if command -v mungekey >/dev/null; then
        mungekey --create --bits=1024 --keyfile="$MUNGE_KEY" --force
    else
        dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
    fi
    KEY_CREATED=1
fi
chown munge:munge "$MUNGE_KEY"
chmod 0600 "$MUNGE_KEY"

# ---------------------------------------------------------------- slurm.conf
# First line of `slurmd -C`, e.g.
#   NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
hw=$(slurmd -C 2>/dev/null | head -n 1) || true
[[ $hw == NodeName=*RealMemory=* ]] || die "unexpected output of 'slurmd -C': '$hw'"
NODE=${hw%% *}
NODE=${NODE#NodeName=}
# RealMemory at 90 % of what the node reports, so slurmd never finds less than configured
NODE_LINE=$(awk -v addr=127.0.0.1 '{
    for (i = 1; i <= NF; i++)
        if ($i ~ /^RealMemory=/) { split($i, kv, "="); $i = "RealMemory=" int(kv[2] * 0.9) }
    $1 = $1 " NodeAddr=" addr
    print $0 " State=UNKNOWN"
}' <<<"$hw")

write_conf() {
    cat <<EOF
# Generated by .ci/slurm/start-slurm.sh -- edits are overwritten on the next start.
ClusterName=$CLUSTER_NAME
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$LAB/state/ctld
SlurmdSpoolDir=$LAB/state/d
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without it a job that gives no --mem gets the whole node's memory and jobs run one at a time
DefMemPerCPU=1000
# no slurmdbd: sacct does not work, clients use squeue; finished jobs stay visible for 1 h
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGDIR/jobcomp.txt
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
Waittime=0
$NODE_LINE
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

CONF_CHANGED=0
write_conf >"$CONF.new"
if [[ -f $CONF ]] && cmp -s "$CONF.new" "$CONF"; then
    rm -f "$CONF.new"
else
    mv -f "$CONF.new" "$CONF"
    chmod 0644 "$CONF"
    CONF_CHANGED=1
    log "wrote $CONF ($NODE_LINE)"
fi

# Another SLURM (e.g. one started with a different SLURM_LAB) holding the ports would
# make our daemons die right after they fork: refuse before touching anything shared.
port_in_use() { timeout 2 bash -c ": >/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
if ! pid_of "$CTLD_PID" slurmctld >/dev/null && port_in_use 6817; then
    die "port 6817 is in use but slurmctld of $LAB is not running: is another SLURM running (other SLURM_LAB)? Stop it first."
fi
if ! pid_of "$SLURMD_PID" slurmd >/dev/null && port_in_use 6818; then
    die "port 6818 is in use but slurmd of $LAB is not running: is another SLURM running (other SLURM_LAB)? Stop it first."
fi

# The default config path must point at ours (see the header).
mkdir -p /etc/slurm
if [[ -L /etc/slurm/slurm.conf ]]; then
    [[ $(readlink /etc/slurm/slurm.conf) == "$CONF" ]] || ln -sfn "$CONF" /etc/slurm/slurm.conf
elif [[ -e /etc/slurm/slurm.conf ]]; then
    backup=/etc/slurm/slurm.conf.before-msc-slurm
    log "moving existing /etc/slurm/slurm.conf to $backup"
    mv -f /etc/slurm/slurm.conf "$backup"
    ln -s "$CONF" /etc/slurm/slurm.conf
else
    ln -s "$CONF" /etc/slurm/slurm.conf
fi
if [[ -n ${SLURM_CONF:-} && $SLURM_CONF != "$CONF" && $SLURM_CONF != /etc/slurm/slurm.conf ]]; then
    log "warning: ignoring SLURM_CONF=$SLURM_CONF from the environment; unset it for clients"
fi
export SLURM_CONF=$CONF

# ---------------------------------------------------------------- daemons
if ((KEY_CREATED)); then
    stop_daemon "$MUNGED_PID" munged   # a running munged would hold an old key
fi
if ((CONF_CHANGED)); then
    stop_daemon "$SLURMD_PID" slurmd
    stop_daemon "$CTLD_PID" slurmctld
fi

if pid_of "$MUNGED_PID" munged >/dev/null; then
    log "munged already running (pid $(pid_of "$MUNGED_PID" munged))"
else
    rm -f "$MUNGED_PID"
    runuser -u munge -- "$MUNGED" \
        --socket="$MUNGE_SOCKET" \
        --key-file="$MUNGE_KEY" \
        --log-file="$MUNGED_LOG" \
        --pid-file="$MUNGED_PID" \
        --seed-file="$MUNGE/lib/munged.seed" ||
        die "munged failed to start" "$MUNGED_LOG"
    wait_pid_file "$MUNGED_PID" munged "$MUNGED_LOG"
fi
if command -v munge >/dev/null && command -v unmunge >/dev/null; then
    munge --socket="$MUNGE_SOCKET" -n | unmunge --socket="$MUNGE_SOCKET" >/dev/null ||
        die "munge credential round-trip failed on $MUNGE_SOCKET" "$MUNGED_LOG"
fi

if pid_of "$CTLD_PID" slurmctld >/dev/null; then
    log "slurmctld already running (pid $(pid_of "$CTLD_PID" slurmctld))"
else
    rm -f "$CTLD_PID"
    slurmctld || die "slurmctld failed to start" "$CTLD_LOG"
    wait_pid_file "$CTLD_PID" slurmctld "$CTLD_LOG"
fi

if pid_of "$SLURMD_PID" slurmd >/dev/null; then
    log "slurmd already running (pid $(pid_of "$SLURMD_PID" slurmd))"
else
    rm -f "$SLURMD_PID"
    slurmd || die "slurmd failed to start" "$SLURMD_LOG"
    wait_pid_file "$SLURMD_PID" slurmd "$SLURMD_LOG"
fi

# ---------------------------------------------------------------- node ready?
state=""
resumed=0
for ((i = 0; i < WAIT_SECONDS * 5; i++)); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1) || state=""
    case $state in
        idle | mixed | allocated | completing) break ;;
        down* | drain* | fail*)
            # e.g. left DOWN/DRAIN by an earlier run; the node is ours, bring it back
            if ((!resumed)); then
                log "node $NODE is $state, resuming it"
                scontrol update NodeName="$NODE" State=RESUME || true
                resumed=1
            fi
            ;;
    esac
    sleep 0.2
done
case $state in
    idle | mixed | allocated | completing) log "node $NODE is $state" ;;
    *) die "node $NODE not ready after ${WAIT_SECONDS}s (state '${state:-no answer}')" "$CTLD_LOG" "$SLURMD_LOG" ;;
esac

# ---------------------------------------------------------------- smoke test
if ! out=$(timeout "$SMOKE_TIMEOUT" srun --nodes=1 --ntasks=1 --time=1 --mem=100 hostname 2>&1); then
    die "smoke test 'srun hostname' failed or timed out after ${SMOKE_TIMEOUT}s: $out" "$CTLD_LOG" "$SLURMD_LOG"
fi
log "smoke test ok: srun hostname -> $out"
pid_of "$MUNGED_PID" munged >/dev/null || die "munged is no longer running" "$MUNGED_LOG"
pid_of "$CTLD_PID" slurmctld >/dev/null || die "slurmctld is no longer running" "$CTLD_LOG"
pid_of "$SLURMD_PID" slurmd >/dev/null || die "slurmd is no longer running" "$SLURMD_LOG"
log "SLURM is up: partition '$PARTITION', lab $LAB, config /etc/slurm/slurm.conf -> $CONF"

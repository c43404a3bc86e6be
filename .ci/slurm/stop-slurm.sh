#!/usr/bin/env bash
# Stop the single-node SLURM cluster that .ci/slurm/start-slurm.sh started.
#
#   .ci/slurm/stop-slurm.sh            # cancel jobs, stop slurmd, slurmctld, munged
#   .ci/slurm/stop-slurm.sh --purge    # ... and delete $SLURM_LAB (state, logs, key)
#
# Only the PIDs recorded in the pid files under $SLURM_LAB (default /tmp/msc-slurm)
# are signalled, and only if the process still has the expected name: SIGTERM,
# wait, SIGKILL after 30 s. Nothing is killed by name. Packages stay installed.

set -Eeuo pipefail

LAB=${SLURM_LAB:-/tmp/msc-slurm}
PURGE=0
START_TIME=$SECONDS

log() { printf '[stop-slurm %3ds] %s\n' "$((SECONDS - START_TIME))" "$*"; }
die() { printf '[stop-slurm] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'die "unexpected failure at line $LINENO (exit code $?): $BASH_COMMAND"' ERR

for arg in "$@"; do
    case $arg in
        --purge) PURGE=1 ;;
        -h | --help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument '$arg' (try --help)" ;;
    esac
done

[[ $(id -u) -eq 0 ]] || die "must run as root"
[[ $LAB == /* && $LAB != / ]] || die "SLURM_LAB must be an absolute path other than /, got '$LAB'"

CONF=$LAB/etc/slurm.conf
MUNGED_PID=$LAB/munge/run/munged.pid
CTLD_PID=$LAB/run/slurmctld.pid
SLURMD_PID=$LAB/run/slurmd.pid

if [[ ! -d $LAB ]]; then
    log "nothing to stop: $LAB does not exist"
    exit 0
fi

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

# stop_daemon FILE NAME: SIGTERM, wait for exit, SIGKILL after 30 s
stop_daemon() {
    local pid i
    if ! pid=$(pid_of "$1" "$2"); then
        [[ -e $1 ]] && log "$2 not running (stale pid file removed)"
        rm -f "$1"
        return 0
    fi
    log "stopping $2 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        if [[ ! -d /proc/$pid ]]; then
            rm -f "$1"
            return 0
        fi
        sleep 0.1
    done
    log "$2 (pid $pid) still running 30 s after SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        [[ -d /proc/$pid ]] || break
        sleep 0.1
    done
    [[ ! -d /proc/$pid ]] || log "warning: $2 (pid $pid) survived SIGKILL"
    rm -f "$1"
}

# Cancel the jobs still queued or running, while slurmctld can still do it.
if pid_of "$CTLD_PID" slurmctld >/dev/null && command -v squeue >/dev/null; then
    export SLURM_CONF=$CONF
    mapfile -t jobs < <(timeout 10 squeue -h -t PENDING,RUNNING,SUSPENDED,COMPLETING -o %i 2>/dev/null || true)
    if ((${#jobs[@]})); then
        log "cancelling ${#jobs[@]} job(s): ${jobs[*]}"
        timeout 10 scancel "${jobs[@]}" || log "warning: scancel failed"
        # give slurmd a moment to end the job steps before it goes away itself
        for ((i = 0; i < 50; i++)); do
            [[ -z $(timeout 5 squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null || true) ]] && break
            sleep 0.2
        done
    fi
fi

stop_daemon "$SLURMD_PID" slurmd
stop_daemon "$CTLD_PID" slurmctld
stop_daemon "$MUNGED_PID" munged

if ((PURGE)); then
    [[ -e $LAB/.msc-slurm-lab ]] || die "$LAB has no .msc-slurm-lab marker; not deleting it"
    if [[ -L /etc/slurm/slurm.conf && $(readlink /etc/slurm/slurm.conf) == "$CONF" ]]; then
        rm -f /etc/slurm/slurm.conf
        log "removed symlink /etc/slurm/slurm.conf"
    fi
    rm -rf -- "$LAB"
    log "removed $LAB"
fi
log "SLURM stopped"

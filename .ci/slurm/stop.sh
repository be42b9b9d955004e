#!/usr/bin/env bash
# Stop the daemons .ci/slurm/start.sh started, by the PIDs in its pidfiles (nothing else), in
# reverse order of their dependencies. Idempotent.
set -u
STATE=${D2S_SLURM_STATE:-/tmp/d2s-ci-slurm}
RUN=$STATE/run

stop() { # stop NAME
    local pidfile=$RUN/$1.pid pid
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            printf '[slurm-stop] %s (%s) ignored SIGTERM for 30 s: SIGKILL\n' "$1" "$pid" >&2
            kill -KILL "$pid"
        fi
        printf '[slurm-stop] stopped %s (%s)\n' "$1" "$pid" >&2
    fi
    rm -f "$pidfile"
}

stop slurmd
stop slurmctld
stop slurmdbd
stop mariadbd
stop munged
# the link start.sh made (only if it is still ours)
[[ $(readlink /etc/slurm/slurm.conf 2>/dev/null) == "$STATE/etc/slurm.conf" ]] && rm -f /etc/slurm/slurm.conf
exit 0

#!/usr/bin/env bash
# Stand up a single-node SLURM with accounting for the workflow's SLURM test (.ci/slurm/test.sh):
# munged, MariaDB, slurmdbd, slurmctld and slurmd, all on loopback or unix sockets, all private to
# $D2S_SLURM_STATE (configuration, sockets, pidfiles, logs, spool, database), on their own ports,
# so an existing SLURM or MariaDB of the machine is neither read nor touched. MariaDB, slurmdbd and
# slurmd bind 127.0.0.1; slurmctld binds its port on every interface (as SLURM does), and munge
# authenticates every message. Run as root
# (Debian/Ubuntu; installs the packages with apt when a daemon is missing).
#
#   .ci/slurm/start.sh             # prints `export SLURM_CONF=…` lines: eval them, or source env.sh
#   .ci/slurm/stop.sh              # stops exactly these daemons, by their pidfiles
#
# Environment: D2S_SLURM_STATE (/tmp/d2s-ci-slurm), D2S_SLURM_ACCOUNT (d2s),
# D2S_SLURM_PORT_BASE (16817: slurmctld, +1 slurmd, +2 slurmdbd, +3 MariaDB).
# Exit status: 0 ready; 3 cannot run here (not root, packages not installable, another SLURM
# configuration in /etc/slurm); 1 a daemon did not come up (its log is printed).
set -euo pipefail

STATE=${D2S_SLURM_STATE:-/tmp/d2s-ci-slurm}
ACCOUNT=${D2S_SLURM_ACCOUNT:-d2s}
PORT=${D2S_SLURM_PORT_BASE:-16817}
CLUSTER=d2sci
NODE=$(hostname -s)
PACKAGES=(slurm-wlm slurmdbd munge mariadb-server)
DAEMONS=(/usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/slurmdbd /usr/sbin/mariadbd)

say() { printf '[slurm-start] %s\n' "$*" >&2; }
fail() { # fail STATUS MESSAGE [LOG]
    say "$2"
    [[ -n ${3:-} && -f $3 ]] && { say "last lines of $3:"; tail -n 30 "$3" >&2; }
    exit "$1"
}
wait_for() { # wait_for SECONDS WHAT LOG COMMAND...
    local seconds=$1 what=$2 log=$3
    shift 3
    for _ in $(seq "$((seconds * 2))"); do
        timeout 10 "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    fail 1 "$what did not come up within ${seconds}s" "$log"
}

[[ $(id -u) == 0 ]] || fail 3 "needs root (it starts system daemons); run as root"

# --- packages ----------------------------------------------------------------------------------
missing() { for d in "${DAEMONS[@]}"; do [[ -x $d ]] || return 0; done; return 1; }
if missing; then
    say "installing ${PACKAGES[*]} (apt-get)"
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; } >&2; then
        fail 3 "apt-get could not install ${PACKAGES[*]}"
    fi
    missing && fail 3 "still missing after apt-get: one of ${DAEMONS[*]}"
fi

mkdir -p "$STATE"/{etc,run,log,spool/ctld,spool/d,munge,munge-socket,mysql,mysql-run}
ETC=$STATE/etc RUN=$STATE/run LOG=$STATE/log
export SLURM_CONF=$ETC/slurm.conf
MUNGE_SOCKET=$STATE/munge-socket/munge.socket.2 # its folder must be world-readable

# --- munge (its own key and socket) -------------------------------------------------------------
chown munge:munge "$STATE/munge" "$STATE/munge-socket"
chmod 0700 "$STATE/munge" && chmod 0755 "$STATE/munge-socket"
if [[ ! -s $STATE/munge/munge.key ]]; then
    dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
fi
chown munge:munge "$STATE/munge/munge.key" && chmod 0400 "$STATE/munge/munge.key"
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
running() { # running NAME: its pidfile names a live process (a daemon that lost its port to a
    # stray one exits, and the stray one must not pass for it)
    wait_for 30 "$1 (pidfile $RUN/$1.pid)" "$LOG/$1.log" bash -c "kill -0 \$(cat '$RUN/$1.pid')"
}
if ! alive "$STATE/munge/munged.pid"; then
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged --key-file="$STATE/munge/munge.key" \
        --socket="$MUNGE_SOCKET" --pid-file="$STATE/munge/munged.pid" \
        --log-file="$STATE/munge/munged.log" --seed-file="$STATE/munge/munged.seed"
fi
wait_for 20 munged "$STATE/munge/munged.log" \
    bash -c "munge -S '$MUNGE_SOCKET' -n | unmunge -S '$MUNGE_SOCKET'"
# the pidfile is the munge user's; copy it where stop.sh looks for every daemon
cp "$STATE/munge/munged.pid" "$RUN/munged.pid"

# --- MariaDB on 127.0.0.1:$((PORT + 3)), its own data folder ---------------------------------------
DB_PORT=$((PORT + 3))
chown mysql:mysql "$STATE/mysql" "$STATE/mysql-run" # mariadbd runs as mysql: its socket, log, pid
if [[ ! -d $STATE/mysql/mysql ]]; then
    say "initialising the accounting database"
    mariadb-install-db --user=mysql --datadir="$STATE/mysql" --auth-root-authentication-method=socket \
        >"$LOG/mariadb-install.log" 2>&1 || fail 1 "mariadb-install-db failed" "$LOG/mariadb-install.log"
fi
DB_RUN=$STATE/mysql-run
if ! alive "$DB_RUN/mariadbd.pid"; then
    say "starting mariadbd"
    setsid -f /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$STATE/mysql" \
        --bind-address=127.0.0.1 --port="$DB_PORT" --socket="$DB_RUN/mysql.sock" \
        --pid-file="$DB_RUN/mariadbd.pid" --log-error="$DB_RUN/mariadb.err" </dev/null >/dev/null 2>&1
fi
wait_for 60 mariadbd "$DB_RUN/mariadb.err" mariadb-admin --no-defaults --socket="$DB_RUN/mysql.sock" ping
cp "$DB_RUN/mariadbd.pid" "$RUN/mariadbd.pid" # where stop.sh looks for every daemon
DB_PASS=d2s-ci-only
mariadb --no-defaults --socket="$DB_RUN/mysql.sock" -u root <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '${DB_PASS}';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '${DB_PASS}';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL

# --- configuration ------------------------------------------------------------------------------
CPUS=$(getconf _NPROCESSORS_ONLN) # not nproc: it honours OMP_NUM_THREADS
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=${MUNGE_SOCKET}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
CommunicationParameters=NoInAddrAny
SlurmUser=root
LogFile=${LOG}/slurmdbd.log
PidFile=${RUN}/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=${DB_PORT}
StorageUser=slurm
StoragePass=${DB_PASS}
StorageLoc=slurm_acct_db
EOF
chmod 0600 "$ETC/slurmdbd.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=${CLUSTER}
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=${MUNGE_SOCKET}
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldPort=${PORT}
SlurmdPort=$((PORT + 1))
StateSaveLocation=${STATE}/spool/ctld
SlurmdSpoolDir=${STATE}/spool/d
SlurmctldPidFile=${RUN}/slurmctld.pid
SlurmdPidFile=${RUN}/slurmd.pid
SlurmctldLogFile=${LOG}/slurmctld.log
SlurmdLogFile=${LOG}/slurmd.log
MinJobAge=300
MailProg=/bin/true
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$((PORT + 2))
AccountingStoragePass=${MUNGE_SOCKET}
CommunicationParameters=NoInAddrAny
AccountingStorageEnforce=associations
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStoreFlags=job_comment
NodeName=${NODE} NodeAddr=127.0.0.1 NodeHostname=${NODE} CPUs=${CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=cpu Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=${NODE} Default=NO MaxTime=INFINITE State=UP
EOF

# The SLURM plugin's job steps drop SLURM_CONF before their inner `srun`, so the configuration
# must also be where SLURM looks by default: a link to ours, never over a file someone else made.
SYSTEM_CONF=/etc/slurm/slurm.conf
if [[ -e $SYSTEM_CONF || -L $SYSTEM_CONF ]] && [[ $(readlink "$SYSTEM_CONF") != "$SLURM_CONF" ]]; then
    fail 3 "$SYSTEM_CONF exists and is not this test's: run the test on a machine without a SLURM configuration"
fi
mkdir -p /etc/slurm && ln -sfn "$SLURM_CONF" "$SYSTEM_CONF"

# --- daemons ------------------------------------------------------------------------------------
if ! alive "$RUN/slurmdbd.pid"; then
    say "starting slurmdbd"
    /usr/sbin/slurmdbd
fi
running slurmdbd
wait_for 60 slurmdbd "$LOG/slurmdbd.log" sacctmgr -n show cluster
sacctmgr -n show cluster format=cluster | grep -qw "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >&2
sacctmgr -n show account format=account | grep -qw "$ACCOUNT" ||
    sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description=ci Organization=ci >&2
sacctmgr -n show assoc where user=root account="$ACCOUNT" format=user | grep -qw root ||
    sacctmgr -i add user root Account="$ACCOUNT" Cluster="$CLUSTER" >&2
if ! alive "$RUN/slurmctld.pid"; then
    say "starting slurmctld"
    /usr/sbin/slurmctld
fi
running slurmctld
wait_for 60 slurmctld "$LOG/slurmctld.log" bash -c 'scontrol ping | grep -q UP'
if ! alive "$RUN/slurmd.pid"; then
    say "starting slurmd"
    /usr/sbin/slurmd
fi
running slurmd
IDLE="sinfo -h -n '$NODE' -o %t | grep -Eqx 'idle|mix|alloc'"
if ! (wait_for 30 "node $NODE" "$LOG/slurmd.log" bash -c "$IDLE") 2>/dev/null; then
    scontrol update NodeName="$NODE" State=RESUME >&2 || true # left DOWN by an earlier config
    wait_for 30 "node $NODE (after RESUME)" "$LOG/slurmd.log" bash -c "$IDLE"
fi
srun -N1 -n1 -t 1 true || fail 1 "srun of a trivial job failed" "$LOG/slurmctld.log"
say "ready: $CPUS CPUs, $MEM_MB MB, partitions cpu (default) and gpu, account $ACCOUNT"
printf 'export SLURM_CONF=%q\n' "$SLURM_CONF" | tee "$STATE/env.sh"

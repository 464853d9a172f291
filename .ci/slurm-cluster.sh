#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for tests/test_cluster.py (and by hand).
#
#   .ci/slurm-cluster.sh start    install (Debian packages, once) and start munge, slurmctld, slurmd
#   .ci/slurm-cluster.sh stop     stop them again (the logs stay under the state directory)
#   .ci/slurm-cluster.sh check    say why this machine cannot run it (exit 1), if it cannot
#
# Needs root and apt-get (Debian 12: slurm-wlm 22.05).  The configuration goes where
# Debian's SLURM looks for it, /etc/slurm/{slurm,gres}.conf (inside a job the executor
# plugin's `srun` drops SLURM_CONF, so another place would not do); the script refuses to
# overwrite a slurm.conf it did not write, and `stop` removes its files again.  State,
# spool, logs and pid files live under $PETMAD_SLURM_DIR (default /tmp/petmad-slurm).
# Munge uses Debian's defaults (/etc/munge/munge.key, created if missing; /run/munge).
#
# The cluster: one node (this machine: its CPUs; 64 GB of memory declared, not enforced,
# so that the rules' requests are accepted; one GPU "gres" per CPU backed by plain files,
# so that GPU requests are scheduled although nothing runs on a GPU) in two partitions,
# `cpu` (default) and `gpu`.  No accounting database (slurmdbd and MariaDB would double
# the start-up and are not needed): job states come from slurmctld, which keeps finished
# jobs for MinJobAge = 1 hour, so the executor plugin's `squeue` status mode sees every
# job's end (and tests can read `scontrol show job` afterwards).  Starts in about a second
# once installed (the first install: apt-get update and 8 packages, 10-30 s).
set -euo pipefail

DIR=${PETMAD_SLURM_DIR:-/tmp/petmad-slurm}
ETC=/etc/slurm
CONF=$ETC/slurm.conf
MARKER="# Written by .ci/slurm-cluster.sh: a one-node test cluster."
PACKAGES=(munge slurmctld slurmd slurm-client)

say() { echo "slurm-cluster: $*" >&2; }
die() { say "$*"; exit 1; }

can_run() {
    [ "$(id -u)" = 0 ] || { echo "not root"; return 1; }
    command -v apt-get >/dev/null || { echo "no apt-get"; return 1; }
    if [ -e "$CONF" ] && [ "$(head -1 "$CONF")" != "$MARKER" ]; then
        echo "$CONF is another SLURM configuration"; return 1
    fi
    return 0
}

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The packages' scripts would start the daemons with Debian's own config; we start
    # ours.  A policy-rc.d that we put there (and only then) keeps them from trying.
    local policy=/usr/sbin/policy-rc.d ours=""
    if [ ! -e $policy ]; then
        printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy && ours=1
    fi
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        > "$DIR/apt.log" 2>&1 || { [ -n "$ours" ] && rm -f $policy; tail -20 "$DIR/apt.log" >&2; die "apt-get failed"; }
    [ -n "$ours" ] && rm -f $policy
    return 0
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
    [ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    runuser -u munge -- /usr/sbin/munged
    : > "$DIR/munged.ours"   # so that `stop` stops only a munged that we started
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "munged did not start (see /var/log/munge/munged.log)"
}

write_config() {
    local host cpus
    host=$(hostname -s)
    cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc obeys OpenMP variables
    mkdir -p "$DIR"/{state,spool,log} "$ETC"
    cat > "$CONF" <<EOF
$MARKER
ClusterName=petmad
MailProg=/bin/true
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# no cgroups in a container: plain process tracking, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# finished jobs stay visible to squeue/scontrol for an hour (the plugin's squeue mode
# needs at least 3 x its first status-check interval)
MinJobAge=3600
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# take the node's CPUs, memory and GPU from this file, not from the hardware
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=65536 Gres=gpu:$cpus State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host MaxTime=INFINITE State=UP
EOF
    # One GPU "gres" per CPU, so GPU jobs run side by side as CPU jobs do.  SLURM wants a
    # device file per GPU; plain files stand in (nothing runs on a GPU, no cgroups).
    mkdir -p "$DIR/dev"
    local last=$((cpus - 1))
    for i in $(seq 0 $last); do : > "$DIR/dev/gpu$i"; done
    cat > "$ETC/gres.conf" <<EOF
$MARKER
AutoDetect=off
NodeName=$host Name=gpu File=$DIR/dev/gpu[0-$last]
EOF
}

start() {
    local reason
    reason=$(can_run) || die "cannot run SLURM here: $reason"
    if [ -f "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
        stop
    fi
    if [ -e "$CONF" ] && [ "$(head -1 "$CONF")" != "$MARKER" ]; then
        die "$CONF exists and was not written by this script; not touching it"
    fi
    local ours=""
    [ -f "$DIR/munged.ours" ] && ours=1
    rm -rf "$DIR" && mkdir -p "$DIR"
    [ -n "$ours" ] && : > "$DIR/munged.ours"
    install_packages
    start_munge
    write_config
    slurmctld -c || die "slurmctld failed (see $DIR/log/slurmctld.log)"
    slurmd || die "slurmd failed (see $DIR/log/slurmd.log)"
    local state=""
    for _ in $(seq 150); do
        state=$(sinfo -h -N -o %T 2>/dev/null | head -1 || true)
        case $state in
            idle|mixed|allocated) say "up: partitions cpu (default) and gpu on $(hostname -s)"; return 0 ;;
            down*|drain*) scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null || true ;;
        esac
        sleep 0.2
    done
    tail -n 5 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    stop
    die "the node did not come up (state '$state')"
}

stop_daemon() {  # pid file: TERM, then wait up to 10 s, then KILL
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    say "$1: process $pid ignored TERM, killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

stop() {
    [ -f "$CONF" ] && [ "$(head -1 "$CONF")" = "$MARKER" ] || return 0
    scancel --quiet --user=root 2>/dev/null || true
    stop_daemon "$DIR/slurmd.pid"
    stop_daemon "$DIR/slurmctld.pid"
    [ -f "$DIR/munged.ours" ] && stop_daemon /run/munge/munged.pid
    rm -f "$DIR/munged.ours"
    rm -f "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$CONF" "$ETC/gres.conf"
    say "stopped (logs in $DIR/log)"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    check) can_run ;;
    *) echo "usage: $0 start|stop|check" >&2; exit 2 ;;
esac

#!/bin/sh
# Brings up a one-node Slurm cluster on localhost for the batch integration
# test: munged, slurmctld and slurmd from Debian's packages (installed here
# when missing, which needs root and apt-get), configuration, state and logs
# under STATE_DIR. Idempotent: a cluster already up in STATE_DIR is reused.
#
#   scripts/slurm-up.sh STATE_DIR     then: export SLURM_CONF=STATE_DIR/slurm.conf
#
# Environment: SLURM_CTLD_PORT, SLURMD_PORT (default 6817, 6818), SLURM_CPUS
# (CPUs the node declares, default 4: more than the box has is allowed).
# Exit status 0: up; 3: cannot be brought up here (the reason on stderr; a
# test skips); other: a failure.
set -eu
state=${1:?usage: slurm-up.sh STATE_DIR}
mkdir -p "$state"
state=$(cd "$state" && pwd)
skip() { echo "slurm-up: SKIP: $*" >&2; exit 3; }

need=""
for b in slurmctld slurmd munged sbatch; do
	command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || need="$need $b"
done
if [ -n "$need" ]; then
	[ "$(id -u)" = 0 ] || skip "Slurm is not installed ($need missing) and installing it needs root"
	command -v apt-get >/dev/null 2>&1 || skip "Slurm is not installed ($need missing) and there is no apt-get"
	# Keep the packages' services from starting: there is no systemd here,
	# and the test starts its own daemons.
	rcd=/usr/sbin/policy-rc.d
	had_rcd=0; [ -e $rcd ] && had_rcd=1
	[ $had_rcd = 1 ] || { printf '#!/bin/sh\nexit 101\n' > $rcd; chmod +x $rcd; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge >"$state/apt.log" 2>&1 ||
		{ [ $had_rcd = 1 ] || rm -f $rcd; skip "apt-get install of Slurm failed (see $state/apt.log)"; }
	[ $had_rcd = 1 ] || rm -f $rcd
fi
[ "$(id -u)" = 0 ] || skip "the one-node cluster runs its daemons as root"
PATH=/usr/sbin:$PATH

# munged: one per host, shared by every cluster; started if not running.
if ! [ -S /run/munge/munge.socket.2 ] || ! munge -n >/dev/null 2>&1; then
	[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
	chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
	mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
	runuser -u munge -- munged
	echo munged >"$state/started-munged"
fi

ctld_port=${SLURM_CTLD_PORT:-6817}
d_port=${SLURMD_PORT:-6818}
conf="$state/slurm.conf"
export SLURM_CONF="$conf"
if [ -f "$state/slurmctld.pid" ] && kill -0 "$(cat "$state/slurmctld.pid")" 2>/dev/null && sinfo -h >/dev/null 2>&1; then
	echo "slurm-up: already up ($conf)"
	exit 0
fi
mkdir -p "$state/state" "$state/spool"
cat >"$conf" <<CONF
ClusterName=sambaytest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/state
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmdParameters=config_overrides
CommunicationParameters=NoInAddrAny
ReturnToService=2
MpiDefault=none
KillWait=5
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${SLURM_CPUS:-4} RealMemory=16000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
# The daemons stay in the foreground (-D) in the background of this shell,
# in their own sessions, so that slurm-down can stop exactly them.
setsid slurmctld -D -i -f "$conf" >>"$state/slurmctld.out" 2>&1 </dev/null &
echo $! >"$state/slurmctld.pid"
setsid slurmd -D -f "$conf" >>"$state/slurmd.out" 2>&1 </dev/null &
echo $! >"$state/slurmd.pid"
i=0
while [ $i -lt 60 ]; do
	if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
		echo "slurm-up: up ($conf)"
		exit 0
	fi
	sleep 0.5
	i=$((i + 1))
done
echo "slurm-up: the node did not come up in 30 s; logs in $state" >&2
tail -5 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
exit 1

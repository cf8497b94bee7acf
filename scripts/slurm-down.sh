#!/bin/sh
# Stops the one-node cluster slurm-up.sh started in STATE_DIR: its daemons
# by their recorded PIDs only, and munged only if slurm-up started it.
# Idempotent.
set -u
state=${1:?usage: slurm-down.sh STATE_DIR}
stop() { # pidfile
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}
stop "$state/slurmd.pid"
stop "$state/slurmctld.pid"
if [ -f "$state/started-munged" ] && [ -f /run/munge/munged.pid ]; then
	stop /run/munge/munged.pid
	rm -f "$state/started-munged"
fi
echo "slurm-down: stopped ($state)"

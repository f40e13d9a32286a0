#!/bin/sh
# check-fault-bites.sh -- the fault suite must catch a planted bug: with --stale-reads the
# clients' gets are served by random nodes without ReadIndex, so a lagging or partitioned
# follower answers with old data. The run must end in a linearizability violation (exit 1,
# "NOT linearizable"); a clean verdict means the runner or the checker went blind.
set -u
build=${abs_top_builddir:-.}
RAFTKVD=${RAFTKVD:-$build/src/raftkvd}
export RAFTKVD
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$build/tests/fault/rk-fault" --nodes 3 --clients 8 --seconds 15 --faults partition \
	--interval 500 --hold 1500 --seed "${RK_FAULT_SEED:-1}" --stale-reads --discard \
	>"$out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q '^NOT linearizable' "$out"; then
	grep '^rk-fault: [0-9]* ops' "$out"
	echo "check-fault-bites: the planted stale reads were caught, as they must be"
	exit 0
fi
cut -c1-300 "$out"
echo "check-fault-bites: FAILED: stale reads went unnoticed (rk-fault exit $rc)"
exit 1

#!/bin/sh
# check-fault.sh -- the fault suite's short run in `make check`: a 3-node cluster, 8 clients,
# 75 s of short faults (each kind comes up once or twice), then every check (docs/TESTING.md).
# RK_FAULT_SEED and RK_FAULT_SECONDS change the run; the long mode is tests/fault/run.
set -eu
build=${abs_top_builddir:-.}
RAFTKVD=${RAFTKVD:-$build/src/raftkvd}
RK_FAULTFS_SO=${RK_FAULTFS_SO:-$build/tests/fault/.libs/libfaultfs.so}
export RAFTKVD RK_FAULTFS_SO
exec "$build/tests/fault/rk-fault" --nodes 3 --clients 8 --seconds "${RK_FAULT_SECONDS:-75}" \
	--interval 500 --hold 1200 --seed "${RK_FAULT_SEED:-1}" --faults all

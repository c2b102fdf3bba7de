#!/usr/bin/env bash
# scripts/ci/faults.sh [BUILD_DIR] - the engine under injected faults
# (src/engine/fault.h): builds with -DVLLSI_FAULT_INJECTION=ON, runs the
# faults.* suites (ENOMEM at create and at pool registration, short transfers),
# then the conformance, bufpool and loop suites on both drivers with EAGAIN,
# EINTR, EBUSY and SQ-full injected at high rates under three seeds. Those
# faults must be invisible: the suites' exact expectations hold unchanged.
# (Short transfers are visible by design, so they run in faults.* only; an
# EINTR is visible to a bare vl_engine_poll, which returns early as for a
# real signal, so the conformance suite, which times idle polls, runs
# without it.)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-fault}
source scripts/deps.sh
vl_need_packages cmake make gcc libc6-dev pkg-config libcmocka-dev liburing-dev
seeds=${VLLSI_FAULT_SEEDS:-"1 2 3"}
cmake -S . -B "$build" -DVLLSI_WERROR=ON -DVLLSI_FAULT_INJECTION=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
(cd "$build" && CTEST_OUTPUT_ON_FAILURE=1 ctest -L faults)
for seed in $seeds; do
    for suite in conformance bufpool_suite loop_suite; do
        spec="seed=$seed,eagain=200000,ebusy=50000,sqfull=200000"
        [ "$suite" = conformance ] || spec="$spec,eintr=50000"
        for drv in uring epoll; do
            log="$build/faults.$suite.$drv.$seed.log"
            if ! VLLSI_FAULT=$spec timeout -s KILL 300 "$build/tests/$suite" "$drv" >"$log" 2>&1; then
                cat "$log"
                echo "faults: $suite $drv failed under VLLSI_FAULT=$spec" >&2
                exit 1
            fi
            echo "faults: $suite $drv ok (VLLSI_FAULT=$spec)"
        done
    done
done

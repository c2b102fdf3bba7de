#!/usr/bin/env bash
# scripts/ci/reliability.sh - the bounded CI leg of the reliability checks (docs/reliability.md):
#   1. the simulation-driver suite and the invariant suites (ctest: sim,
#      invariants.uring, invariants.epoll, invariants.sim), about 15 s;
#   2. scripts/soak --ci: 1000 echo connections with byte-checked traffic for 60 s,
#      hostile clients beside them, then descriptor exhaustion (EMFILE), about 80 s.
# The fuzzing leg is scripts/ci/fuzz.sh (clang), run separately.
#
# Usage: scripts/ci/reliability.sh [build-dir]   (default <repo>/build-reliability)
#   SOAK_SECONDS overrides the soak duration (default 60).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-reliability}
source "$root/scripts/deps.sh"
vl_need_packages cmake make gcc libc6-dev pkg-config libcmocka-dev liburing-dev
cmake -S "$root" -B "$build" -DVLLSI_WERROR=ON >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target sim_suite invariants_suite soak_client echo_server
ctest --test-dir "$build" --output-on-failure -R '^(sim|invariants\..*)$'
BUILD_DIR=$build "$root/scripts/soak" --ci --duration "${SOAK_SECONDS:-60}"

#!/usr/bin/env bash
# The reliability harness's long mode (docs/RELIABILITY.md), run outside CI:
#
#   scripts/long-mode.sh crash [POINTS] [LANES]    simulated crash points (default 1000000)
#   scripts/long-mode.sh fuzz [SECONDS] [LANES]    every fuzz target for SECONDS (default 3600)
#
# crash: builds tests/sim_crash.rs in release mode and runs it in runs of 100,000 random crash
#   points (plus each run's exhaustive small workloads), LANES runs at a time (default: the number
#   of cores), every run with its own seed (BASE_SEED + run number; BASE_SEED from the
#   environment, else the time). Each run prints its seed, points, images and violations; a
#   failing run replays with FOLIO_SIM_SEED=<its seed>. Run logs go to target/long-mode/.
# fuzz: scripts/fuzz.sh with the targets split over LANES concurrent invocations, SECONDS of CPU
#   time per target (FUZZ_CPU=1: a lane that shares the machine runs longer until its fuzzer
#   processes have used SECONDS of user + system time). The lanes run at idle scheduling priority
#   (`chrt --idle 0`, when chrt exists) so the machine stays usable; the per-input timeout is
#   therefore wall-clock 600 s (FUZZ_TIMEOUT) instead of CI's 60 s.
#
# Prints one line per run and a total; exits 1 on any violation or fuzz crash, 2 on a setup error.
set -uo pipefail
export LC_ALL=C
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
MODE="${1:-}"
LANES="${3:-$(nproc)}"
LOGS="$ROOT/target/long-mode"
mkdir -p "$LOGS"

crash() {
	local points="${1:-1000000}" per_run=100000
	local bin
	bin=$(cargo test --release --features fault-injection --test sim_crash --no-run 2>&1 |
		grep -o 'target/release/deps/sim_crash-[0-9a-f]*' | tail -n 1)
	[ -x "$bin" ] || { echo "long-mode: cannot build tests/sim_crash.rs" >&2; exit 2; }
	local base="${BASE_SEED:-$(date +%s)}" runs=$(((points + per_run - 1) / per_run))
	echo "long-mode crash: $points points in $runs runs, $LANES at a time, base seed $base"
	local run
	for ((run = 0; run < runs; run++)); do
		while [ "$(jobs -rp | wc -l)" -ge "$LANES" ]; do wait -n; done
		local seed=$((base + run)) n=$per_run
		[ $((points - run * per_run)) -lt $per_run ] && n=$((points - run * per_run))
		(FOLIO_SIM_SEED=$seed FOLIO_SIM_POINTS=$n "$bin" --nocapture >"$LOGS/crash-$seed.log" 2>&1
			echo "rc=$?" >>"$LOGS/crash-$seed.log") &
	done
	wait
	local total=0 images=0 violations=0 failed=0 seed line
	for ((run = 0; run < runs; run++)); do
		seed=$((base + run))
		line=$(grep -o 'sim_crash: [0-9]* crash points.*' "$LOGS/crash-$seed.log" | tail -n 1)
		if [ -z "$line" ] || ! grep -q '^rc=0$' "$LOGS/crash-$seed.log"; then
			echo "seed $seed: FAILED (log $LOGS/crash-$seed.log)"
			failed=$((failed + 1))
			continue
		fi
		echo "seed $seed: ${line#sim_crash: }"
		set -- $(echo "$line" | grep -o '[0-9]*' | sed -n '1p;4p;5p' | tr '\n' ' ')
		total=$((total + $1)) images=$((images + $2)) violations=$((violations + $3))
	done
	echo "long-mode crash: $total crash points, $images crash images, $violations violations, $failed failed runs"
	[ "$violations" -eq 0 ] && [ "$failed" -eq 0 ]
}

fuzz() {
	local seconds="${1:-3600}" targets
	targets=$(ls fuzz/fuzz_targets/*.rs | xargs -n1 basename | sed 's/\.rs$//')
	echo "long-mode fuzz: $(echo $targets | wc -w) targets x $seconds CPU-seconds, $LANES at a time"
	local lane=0 status=0 idle=""
	command -v chrt >/dev/null && idle="chrt --idle 0"
	rm -f "$LOGS"/fuzz-*.log
	declare -a group
	for t in $targets; do group[$((lane % LANES))]+="$t "; lane=$((lane + 1)); done
	for g in "${group[@]}"; do
		FUZZ_TARGETS="$g" FUZZ_CPU=1 FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-600}" $idle \
			scripts/fuzz.sh "$seconds" >"$LOGS/fuzz-${g// /_}.log" 2>&1 &
	done
	for job in $(jobs -p); do wait "$job" || status=1; done
	for log in "$LOGS"/fuzz-*.log; do sed -n '/^== summary/,$p' "$log"; done
	return $status
}

case "$MODE" in
crash) crash "${2:-}" ;;
fuzz) fuzz "${2:-}" ;;
*)
	echo "usage: $0 crash [POINTS] [LANES] | fuzz [SECONDS] [LANES]" >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a while and fails if any of them crashes.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]        (default 60)
#
# 1. Installs cargo-fuzz when `cargo fuzz` is missing (`cargo install cargo-fuzz --locked`).
# 2. Builds all targets once: `cargo fuzz build --sanitizer=none -O` (stable toolchain; the fuzz
#    crate's release profile keeps overflow checks on, like folio's own release profile).
# 3. For every target: copies the checked-in seeds fuzz/seeds/<target>/ into a fresh corpus
#    fuzz/corpus/<target>/ (git-ignored), replays them once (`-runs=0`), then fuzzes for
#    SECONDS_PER_TARGET seconds:
#      cargo fuzz run --sanitizer=none -O <target> fuzz/corpus/<target> -- \
#        -max_total_time=SECONDS -rss_limit_mb=4096 -timeout=60 -fork=1 -ignore_crashes=1
#    (fork mode with -ignore_crashes keeps fuzzing for the whole time after a crash, so one
#    known bug does not hide the others; every crash is still written to fuzz/artifacts/<target>/).
# 4. Prints one summary line per target (seconds fuzzed, executions, crashes) and, for every
#    crash, the crashing input and where the target panicked. Exits 1 if any target crashed
#    (a crashing seed counts), 2 on a setup or build error.
#
# Environment: FUZZ_TARGETS="a b" runs only those targets; FUZZ_CPU=1 makes SECONDS_PER_TARGET
# CPU-seconds instead of wall-clock seconds (the long mode: the target is fuzzed again, on the
# corpus it has grown so far, until the fuzzer processes' user + system time reaches the budget, so
# a lane that shares the machine still gets its full CPU time); FUZZ_TIMEOUT=S sets libFuzzer's
# per-input wall-clock timeout (default 60); FUZZ_SANITIZER=address builds with
# ASan instead (needs nightly features: RUSTC_BOOTSTRAP=1 is set for it). Full libFuzzer logs go
# to fuzz/target/fuzz-logs/<target>.log. Harness inputs are documented in fuzz/src/*.rs; the
# seeds are regenerated with
#   cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds -- fuzz/seeds
set -uo pipefail
export LC_ALL=C

SECONDS_PER_TARGET="${1:-60}"
case "$SECONDS_PER_TARGET" in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS_PER_TARGET]" >&2
	exit 2
	;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
FUZZ="$ROOT/fuzz"
SANITIZER="${FUZZ_SANITIZER:-none}"
if [ "$SANITIZER" != none ]; then
	export RUSTC_BOOTSTRAP=1
fi
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
BIN_DIR="$FUZZ/target/$TRIPLE/release"
LOG_DIR="$FUZZ/target/fuzz-logs"
FUZZ_FLAGS=(--sanitizer="$SANITIZER" -O)
CPU_BUDGET="${FUZZ_CPU:-0}"
TIMEOUT="${FUZZ_TIMEOUT:-60}"

# The harnesses' scratch directories (see fuzz/src/scratch.rs): one directory for the whole run,
# on /dev/shm when possible, removed at the end with whatever crashed inputs left in it.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	FOLIO_FUZZ_SCRATCH="$(mktemp -d /dev/shm/folio-fuzz-run.XXXXXX)"
else
	FOLIO_FUZZ_SCRATCH="$(mktemp -d)"
fi
export FOLIO_FUZZ_SCRATCH
trap 'rm -rf "$FOLIO_FUZZ_SCRATCH"' EXIT

if ! cargo fuzz --version >/dev/null 2>&1; then
	echo "== cargo-fuzz is missing: installing it"
	cargo install cargo-fuzz --locked || exit 2
fi

if [ -n "${FUZZ_TARGETS:-}" ]; then
	read -r -a TARGETS <<<"$FUZZ_TARGETS"
else
	mapfile -t TARGETS < <(cargo fuzz list)
fi
if [ "${#TARGETS[@]}" -eq 0 ]; then
	echo "no fuzz targets found" >&2
	exit 2
fi

echo "== building ${#TARGETS[@]} fuzz targets: cargo fuzz build ${FUZZ_FLAGS[*]}"
cargo fuzz build "${FUZZ_FLAGS[@]}" || exit 2
mkdir -p "$LOG_DIR"

# Where an input makes the target panic: the first "panicked at" line of a single run.
panic_site() {
	"$BIN_DIR/$1" -artifact_prefix="$LOG_DIR/rerun-" "$2" 2>&1 |
		grep -m1 -A1 'panicked at' | tr '\n' ' ' |
		sed -E "s/^thread '[^']*' \([0-9]+\) //; s/  +/ /g; s/ +$//"
}

# Crash, OOM, timeout and leak artifacts of a target, one path a line.
artifacts() {
	find "$FUZZ/artifacts/$1" -maxdepth 1 -type f \
		\( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) \
		2>/dev/null | sort
}

SUMMARY=()
FAILED=0
for target in "${TARGETS[@]}"; do
	corpus="$FUZZ/corpus/$target"
	log="$LOG_DIR/$target.log"
	rm -rf "$corpus"
	mkdir -p "$corpus" "$FUZZ/artifacts/$target"
	if [ -d "$FUZZ/seeds/$target" ]; then
		cp "$FUZZ/seeds/$target/." "$corpus/" -R
	fi
	crashes=0
	crash_lines=()

	echo "== $target: replaying $(find "$corpus" -type f | wc -l) seeds"
	# (A crashing seed is a known crash: its copy goes to the log directory, not to artifacts.)
	if ! cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" "$corpus" -- -runs=0 \
		-artifact_prefix="$LOG_DIR/replay-$target-" >"$log.replay" 2>&1; then
		# Find every crashing seed (the replay stops at the first one) and keep them out of the
		# corpus the fuzzer starts from.
		for seed in "$corpus"/*; do
			if ! "$BIN_DIR/$target" -artifact_prefix="$LOG_DIR/rerun-" "$seed" >/dev/null 2>&1; then
				crashes=$((crashes + 1))
				name="fuzz/seeds/$target/$(basename "$seed")"
				crash_lines+=("  seed $name: $(panic_site "$target" "$seed")")
				rm -f "$seed"
			fi
		done
		if [ "$crashes" -eq 0 ]; then
			echo "replay of $target failed without a crashing seed; see $log.replay" >&2
			crashes=1
			crash_lines+=("  replay failed: see $log.replay")
		fi
	fi

	before="$(artifacts "$target")"
	if [ "$CPU_BUDGET" = 1 ]; then
		echo "== $target: fuzzing for ${SECONDS_PER_TARGET} CPU-seconds"
	else
		echo "== $target: fuzzing for ${SECONDS_PER_TARGET}s"
	fi
	start=$(date +%s)
	cpu_ms=0
	execs=0
	oom=0 timeouts=0 crashed=0
	status=0
	rm -f "$log"
	round=0
	while :; do
		left=$SECONDS_PER_TARGET
		if [ "$CPU_BUDGET" = 1 ]; then
			left=$((SECONDS_PER_TARGET - cpu_ms / 1000))
			[ "$left" -le 0 ] && break
			[ "$left" -lt 10 ] && left=10
		fi
		round=$((round + 1))
		echo "== round $round: -max_total_time=$left" >>"$log"
		# CPU time of the round: user + system of cargo and the fuzzer processes it waited for.
		TIMEFORMAT='%3U %3S'
		{ time cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" "$corpus" -- \
			-max_total_time="$left" -rss_limit_mb=4096 -timeout="$TIMEOUT" \
			-fork=1 -ignore_crashes=1 >>"$log.round" 2>&1; } 2>"$log.cpu"
		round_status=$?
		cat "$log.round" >>"$log"
		read -r user sys <"$log.cpu"
		round_ms=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%d", (u + s) * 1000 }')
		cpu_ms=$((cpu_ms + round_ms))
		# Executions: fork mode prints "#N: cov: ... oom/timeout/crash: a/b/c ..." stat lines; a
		# plain run prints "Done N runs in S second(s)" (or "#N DONE").
		stat="$(grep -E '^#[0-9]+: cov:' "$log.round" | tail -n1)"
		n="$(sed -nE 's/^#([0-9]+): cov:.*/\1/p' <<<"$stat")"
		if [ -z "$n" ]; then
			n="$(sed -nE 's/^Done ([0-9]+) runs in.*/\1/p' "$log.round" | tail -n1)"
		fi
		if [ -z "$n" ]; then
			n="$(sed -nE 's/^#([0-9]+)[[:space:]]+DONE.*/\1/p' "$log.round" | tail -n1)"
		fi
		execs=$((execs + ${n:-0}))
		reported="$(sed -nE 's#.*oom/timeout/crash: ([0-9]+)/([0-9]+)/([0-9]+).*#\1 \2 \3#p' <<<"$stat")"
		if [ -n "$reported" ]; then
			read -r a b c <<<"$reported"
			oom=$((oom + a)) timeouts=$((timeouts + b)) crashed=$((crashed + c))
		fi
		rm -f "$log.round" "$log.cpu"
		[ "$round_status" -ne 0 ] && status=$round_status
		# A round that could not start (or burnt no CPU) ends the loop rather than spinning.
		if [ "$CPU_BUDGET" != 1 ] || [ "$round_status" -ne 0 ] || [ "$round_ms" -lt 1000 ]; then
			break
		fi
	done
	elapsed=$(($(date +%s) - start))
	found=$((oom + timeouts + crashed))
	new=()
	while IFS= read -r path; do
		[ -n "$path" ] && new+=("$path")
	done < <(comm -13 <(printf '%s\n' "$before") <(artifacts "$target"))
	if [ "${#new[@]}" -gt "$found" ]; then
		found=${#new[@]}
	fi
	if [ "$found" -eq 0 ] && [ "$status" -ne 0 ]; then
		# No crash reported, yet the run failed (e.g. it could not start): count it.
		found=1
		crash_lines+=("  fuzzing failed with status $status: see $log")
	fi
	# New crash inputs grouped by where they panic: one line per site, with its first input.
	declare -A site_count=() site_input=()
	sites=()
	for path in "${new[@]}"; do
		site="$(panic_site "$target" "$path")"
		site="${site:-no panic message (a timeout, an OOM or a signal: see $log)}"
		if [ -z "${site_count[$site]:-}" ]; then
			sites+=("$site")
			site_count[$site]=0
			site_input[$site]="${path#"$ROOT"/}"
		fi
		site_count[$site]=$((site_count[$site] + 1))
	done
	for site in "${sites[@]}"; do
		crash_lines+=("  ${site_count[$site]} input(s), e.g. ${site_input[$site]}: $site")
	done
	unset site_count site_input
	if [ "$found" -gt 0 ] && [ "${#new[@]}" -eq 0 ] && [ "$status" -eq 0 ]; then
		crash_lines+=("  crashes re-found inputs already in fuzz/artifacts/$target/: see $log")
	fi
	crashes=$((crashes + found))

	line="$(printf '%-18s seconds=%-5s cpu_seconds=%-5s executions=%-9s crashes=%s' \
		"$target" "$elapsed" "$((cpu_ms / 1000))" "$execs" "$crashes")"
	echo "$line"
	SUMMARY+=("$line")
	if [ "$crashes" -gt 0 ]; then
		FAILED=1
		for l in "${crash_lines[@]}"; do
			echo "$l"
			SUMMARY+=("$l")
		done
		echo "  reproduce: cargo fuzz run ${FUZZ_FLAGS[*]} $target <input>;" \
			"minimize: cargo fuzz tmin ${FUZZ_FLAGS[*]} $target <input>"
	fi
done

echo
if [ "$CPU_BUDGET" = 1 ]; then
	echo "== summary (${SECONDS_PER_TARGET} CPU-seconds per target)"
else
	echo "== summary (${SECONDS_PER_TARGET}s per target)"
fi
printf '%s\n' "${SUMMARY[@]}"
if [ "$FAILED" -ne 0 ]; then
	echo "FAILED: at least one target crashed" >&2
	exit 1
fi
echo "OK: no crash"

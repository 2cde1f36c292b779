#!/usr/bin/env bash
# Builds every fuzz target and runs each in turn for TARGET-SECONDS (libFuzzer's -max_total_time)
# with -rss_limit_mb=RSS_MB (default 256) and -timeout=10, starting from its seed corpus
# (corpus/<target>) and its crash inputs (regressions/<target>, if any).
#
#   bash fuzz/run.sh TARGET-SECONDS [RSS_MB] [TARGET...]     # default: every target
#
# Prints, per target: executions, CPU seconds (user + system), crashes, timeouts, out-of-memory.
# Exits non-zero when any target crashed, timed out or ran out of memory; the input is kept under
# fuzz/artifacts/<target>/. New corpus entries go to a temporary directory, removed at the end.
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); uses the nightly toolchain when there
# is one (without a sanitizer the default toolchain builds the targets too). Targets are built
# without a sanitizer (the crate has no unsafe code), with debug assertions and overflow checks.
set -euo pipefail

secs=${1:?usage: bash fuzz/run.sh TARGET-SECONDS [RSS_MB] [TARGET...]}
rss=${2:-256}
shift $(($# < 2 ? $# : 2))
cd "$(dirname "${BASH_SOURCE[0]}")"

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
fi
cargo "${toolchain[@]}" fuzz build --sanitizer none
bin=target/$(rustc -vV | sed -n 's/^host: //p')/release
targets=$(cargo "${toolchain[@]}" fuzz list)
[ $# -eq 0 ] || targets=$*

work=$(mktemp -d "${TMPDIR:-/tmp}/s2i-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
printf '%-14s %12s %9s %8s %9s %5s\n' target executions cpu-s crashes timeouts ooms
for t in $targets; do
    mkdir -p "$work/$t" "$work/$t.found"
    seeds=("corpus/$t")
    [ -d "regressions/$t" ] && seeds+=("regressions/$t")
    start=$(date +%s)
    TIMEFORMAT='%3U %3S'
    rc=0
    { time "$bin/$t" -rss_limit_mb="$rss" -max_total_time="$secs" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$work/$t.found/" "$work/$t" "${seeds[@]}" \
        >"$work/$t.log" 2>&1; } 2>"$work/$t.time" || rc=$?
    cpu=$(awk '{ printf "%.1f", $1 + $2 }' "$work/$t.time")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n 1)
    found() { find "$work/$t.found" -name "$1-*" | wc -l; }
    crashes=$(found crash) timeouts=$(found timeout) ooms=$(found oom)
    printf '%-14s %12s %9s %8s %9s %5s\n' "$t" "${execs:-?}" "$cpu" "$crashes" "$timeouts" "$ooms"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] || [ "$timeouts" -ne 0 ] || [ "$ooms" -ne 0 ]; then
        failed=1
        echo "--- $t failed (exit $rc, $(($(date +%s) - start))s); the end of its log:"
        tail -n 40 "$work/$t.log"
        mkdir -p "artifacts/$t"
        cp "$work/$t.found"/* "artifacts/$t/" 2>/dev/null || true
        ls "$work/$t.found" | sed "s|^|    kept: fuzz/artifacts/$t/|"
    fi
done
exit "$failed"

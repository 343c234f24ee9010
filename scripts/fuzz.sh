#!/usr/bin/env bash
# Builds the libFuzzer target over SMTPCore (its own build folder: instrumented code must not mix with
# the test build) and runs it for a bounded time on a copy of the checked-in seed corpus.
# Usage: scripts/fuzz.sh SECONDS. Exits non-zero on a crash, leaving the input in .build-fuzz/artifacts/.
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/.."
swift build -c release --product smtp-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
corpus=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$corpus" "$log"' EXIT
cp Tests/Fixtures/fuzz-corpus/smtp/* "$corpus/"
mkdir -p .build-fuzz/artifacts
echo "fuzz: SMTPConnection for ${seconds} s"
status=0
LSAN_OPTIONS="suppressions=$PWD/Tests/Fixtures/fuzz-lsan.supp" \
    .build-fuzz/release/smtp-fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix=.build-fuzz/artifacts/ "$corpus" >"$log" 2>&1 || status=$?
grep -E '^stat::(number_of_executed_units|peak_rss_mb)|==[0-9]+==|ERROR|deadly|Test unit written|Fatal error' "$log" || true
if [[ $status -ne 0 ]]; then
    tail -40 "$log"
    echo "fuzz: FAILED (libFuzzer exit $status); the input is in .build-fuzz/artifacts/" >&2
    exit 1
fi
echo "fuzz: no crash"

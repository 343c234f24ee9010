#!/usr/bin/env bash
# Builds the libFuzzer targets (their own build folder: instrumented code must not mix with the test
# build) and runs each for a bounded time on a copy of its checked-in seed corpus:
#   smtp-fuzz    SMTPConnection: framer, DATA/BDAT decoding, command parser, session, policy, AUTH
#   shared-fuzz  the IPC frame decoder and messages, SES/STS XML answers, endpoints, allow-lists, tags,
#                the agent's Vault, metadata-service and credential_process JSON
# Usage: scripts/fuzz.sh SECONDS (per target). Exits non-zero on a crash, leaving the input in
# .build-fuzz/artifacts/ (a crash found becomes a unit test).
set -euo pipefail
seconds=${1:-30}
cd "$(dirname "$0")/.."
targets=(smtp-fuzz:smtp shared-fuzz:shared)
for target in "${targets[@]}"; do
    swift build -c release --product "${target%%:*}" --scratch-path .build-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
done
mkdir -p .build-fuzz/artifacts
failed=0
for target in "${targets[@]}"; do
    product=${target%%:*}
    corpus=$(mktemp -d)
    log=$(mktemp)
    cp "Tests/Fixtures/fuzz-corpus/${target##*:}"/* "$corpus/"
    echo "fuzz: $product for ${seconds} s"
    status=0
    LSAN_OPTIONS="suppressions=$PWD/Tests/Fixtures/fuzz-lsan.supp" \
        ".build-fuzz/release/$product" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix=.build-fuzz/artifacts/ "$corpus" >"$log" 2>&1 || status=$?
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|==[0-9]+==|ERROR|deadly|Test unit written|Fatal error' "$log" || true
    if [[ $status -ne 0 ]]; then
        tail -40 "$log"
        echo "fuzz: $product FAILED (libFuzzer exit $status); the input is in .build-fuzz/artifacts/" >&2
        failed=1
    fi
    rm -rf "$corpus" "$log"
done
[[ $failed -eq 0 ]] || exit 1
echo "fuzz: no crash"

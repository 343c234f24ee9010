#!/usr/bin/env bash
# `make run`: starts ses-smtpd-proxy on 127.0.0.1:2525. Without an AWS account configured it first
# starts a local SES emulator (moto server, signature checking on, sender@example.com verified).
# Ctrl-C stops everything this script started.
set -euo pipefail
bin_dir=$1
smtp=127.0.0.1:2525
http=127.0.0.1:2526
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [[ -z "${AWS_ACCESS_KEY_ID:-}${AWS_PROFILE:-}" ]]; then
    port=$(free_port)
    endpoint="http://127.0.0.1:$port"
    state=$(mktemp -d)
    INITIAL_NO_AUTH_ACTION_COUNT=1000 MOTO_ENABLE_RECORDING=1 MOTO_RECORDER_FILEPATH="$state/requests.jsonl" \
        python3 -m moto.server -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do curl -fs -o /dev/null "$endpoint/moto-api/" && break; sleep 0.1; done
    keys=$(python3 scripts/ses_emulator.py setup --endpoint "$endpoint" --sender sender@example.com)
    export AWS_ACCESS_KEY_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["AWS_ACCESS_KEY_ID"])' "$keys")
    export AWS_SECRET_ACCESS_KEY=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["AWS_SECRET_ACCESS_KEY"])' "$keys")
    export AWS_REGION=us-east-1 AWS_ENDPOINT_URL_SES=$endpoint
    echo "Local SES emulator (moto) on $endpoint; only sender@example.com is verified."
    shown="python3 scripts/ses_emulator.py messages --recording $state/requests.jsonl"
else
    echo "Using your AWS account (AWS_ACCESS_KEY_ID or AWS_PROFILE is set): mail goes to real SES."
    shown="(look in the SES console or your inbox)"
fi

"$bin_dir/ses-smtpd-proxy" --enable-health-check --health-check-bind "$http" \
    --enable-prometheus --prometheus-bind "$http" "$smtp" &
pids+=($!)
for _ in $(seq 100); do curl -fs -o /dev/null "http://$http/health" && break; sleep 0.1; done

cat <<TEXT

ses-smtpd-proxy is listening on $smtp (health and metrics on http://$http/health, /metrics).
Send a mail:
    swaks --server $smtp --from sender@example.com --to someone@example.net
See what SES received:
    $shown
Ctrl-C stops everything.
TEXT
wait "${pids[@]}"

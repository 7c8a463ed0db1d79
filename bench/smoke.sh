#!/usr/bin/env bash
# CI smoke run: every keep-bench scenario for a few seconds against a fresh Keep (no Dovecot).
# Uses $KEEP_BIN and $KEEP_BENCH_BIN when both are given, else builds them (release, .build-release).
# Exits non-zero when a scenario fails. Binds only 127.0.0.1, on ports chosen by the kernel.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
build_bins

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keep-smoke.XXXXXX")
KEEP_PID=""
FLOOR_PID=""
cleanup() {
    stop_pid "$FLOOR_PID"
    stop_pid "$KEEP_PID"
    if [[ "${FAILED:-0}" != 0 ]]; then
        echo "--- last lines of the Keep log ($WORK/data/keep.log) ---"
        tail -n 30 "$WORK/data/keep.log" || true
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

start_keep "$WORK/data"
echo "keep: pid $KEEP_PID imap $KEEP_IMAP lmtp $KEEP_LMTP (data $WORK/data)"
add_keep_users "$WORK/data" 10

FAILED=0
LABEL=keep
run() {
    local name=$1
    shift
    echo "=== $name"
    if ! timeout 600 "$KEEP_BENCH_BIN" "$@" --smoke --label "$LABEL"; then
        echo "!!! scenario $name failed"
        FAILED=$((FAILED + 1))
    fi
}
COMMON=(--imap "$KEEP_IMAP" --lmtp "$KEEP_LMTP" --password "$BENCH_PASSWORD" --server-pid "$KEEP_PID")
run mix mix "${COMMON[@]}" --clients 4
run ping ping "${COMMON[@]}" --clients 10 --users 10
run ping-pipelined ping "${COMMON[@]}" --clients 10 --users 10 --pipeline 50
run flood flood "${COMMON[@]}"
run flood-login flood "${COMMON[@]}" --flood-login --metric-prefix flood_login --flood-users 10
run lmtp lmtp "${COMMON[@]}" --sessions 4
run idle idle "${COMMON[@]}" --users 10
# 2,000 messages, filled by `keep mailbox import` (the fast fill compare.sh uses).
run bigbox bigbox "${COMMON[@]}" --keep-bin "$KEEP_BIN" --keep-data "$WORK/data" --fill-dir "$WORK"
run hostile hostile "${COMMON[@]}"

"$KEEP_BENCH_BIN" floor-server --port 0 --lifetime 120 2> "$WORK/floor.log" &
FLOOR_PID=$!
FLOOR_IMAP=127.0.0.1:$(wait_port "$WORK/floor.log" imap)
LABEL=floor
run floor-ping ping --imap "$FLOOR_IMAP" --clients 10 --users 10
run floor-ping-pipelined ping --imap "$FLOOR_IMAP" --clients 10 --users 10 --pipeline 50

if ! kill -0 "$KEEP_PID" 2>/dev/null; then
    echo "!!! Keep is no longer running"
    FAILED=$((FAILED + 1))
fi
echo "smoke: $FAILED scenario(s) failed"
exit $((FAILED > 0))

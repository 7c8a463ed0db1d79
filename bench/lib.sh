# Shared helpers of bench/smoke.sh and bench/compare.sh (sourced, not run).

BENCH_PASSWORD=${BENCH_PASSWORD:-bench-password}

# build_bins: sets KEEP_BIN and KEEP_BENCH_BIN, building them in release mode unless both are given.
build_bins() {
    if [[ -n "${KEEP_BIN:-}" && -n "${KEEP_BENCH_BIN:-}" ]]; then return; fi
    (cd "$ROOT" && swift build -c release --scratch-path .build-release --product keep >&2 \
        && swift build -c release --scratch-path .build-release --product keep-bench >&2)
    local bin
    bin=$(cd "$ROOT" && swift build -c release --scratch-path .build-release --show-bin-path)
    KEEP_BIN=${KEEP_BIN:-$bin/keep}
    KEEP_BENCH_BIN=${KEEP_BENCH_BIN:-$bin/keep-bench}
}

# wait_port LOG NAME: prints the port of the `listening NAME 127.0.0.1:PORT` line of LOG (waits up to 60 s).
wait_port() {
    local log=$1 name=$2 i port
    for ((i = 0; i < 600; i++)); do
        port=$(grep -o "listening $name 127.0.0.1:[0-9]*" "$log" 2>/dev/null | head -1 | sed 's/.*://') || true
        if [[ -n "$port" ]]; then echo "$port"; return 0; fi
        sleep 0.1
    done
    echo "no 'listening $name' line in $log" >&2
    return 1
}

# start_keep DATA_DIR [IMAP_SETTING ...]: starts Keep on ports from port 0 with benchmark limits (plus the given
# `key = value` lines of [imap]); sets KEEP_PID, KEEP_IMAP, KEEP_LMTP.
start_keep() {
    local data=$1
    shift
    mkdir -p "$data"
    # Only the per-user and total connection caps are raised (for idle); every flood defence keeps its default.
    cat > "$data/keep.toml" <<'TOML'
[imap]
max_connections_per_user = 10000
max_connections = 30000
TOML
    local line
    for line in "$@"; do echo "$line" >> "$data/keep.toml"; done
    "$KEEP_BIN" serve --data "$data" --imap 127.0.0.1:0 --lmtp 127.0.0.1:0 2> "$data/keep.log" &
    KEEP_PID=$!
    KEEP_IMAP=127.0.0.1:$(wait_port "$data/keep.log" imap)
    KEEP_LMTP=127.0.0.1:$(wait_port "$data/keep.log" lmtp)
}

# add_keep_users DATA_DIR N: users u1..uN with the benchmark password (skips existing ones).
add_keep_users() {
    local data=$1 n=$2 i existing
    existing=$("$KEEP_BIN" user list --data "$data" 2>/dev/null | cut -f1 || true)
    for ((i = 1; i <= n; i++)); do
        if grep -qx "u$i" <<<"$existing"; then continue; fi
        "$KEEP_BIN" user add "u$i" --password "$BENCH_PASSWORD" --data "$data" >/dev/null
    done
}

# stop_pid PID: SIGTERM, then SIGKILL after 10 s; only the given pid.
stop_pid() {
    local pid=$1 i
    [[ -z "$pid" ]] && return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

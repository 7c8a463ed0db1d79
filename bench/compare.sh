#!/usr/bin/env bash
# Keep vs Dovecot, same machine, same load generator (keep-bench), alternating runs (Keep, Dovecot, Keep, ...).
# Starts a private Dovecot (own config, base_dir and mail under a temp folder, loopback ports) and a private Keep,
# runs every scenario against both, prints medians and Keep/Dovecot ratios, and rewrites the results section of
# BENCHMARKS.md. Starts and stops only its own processes, by pid; binds only 127.0.0.1.
#
# Environment: PAIRS (default 3), MIX_SECONDS (20), IDLE_COUNTS (1000,10000), DOVECOT_IDLE_COUNTS (1000), IDLE_PAIRS (1),
# BIGBOX_MESSAGES (mailbox sizes, default 10000,100000,1000000; e.g. 10000,100000 for a quicker run; filled by
# `keep mailbox import` and `doveadm import`), BIGBOX_PAIRS (1), HOSTILE_PAIRS (1), KEEP_BIN/KEEP_BENCH_BIN (skip the
# build), KEEP_COMPARE_DIR (reuse a work folder: mailboxes stay filled), KEEP_RESULTS=1 (with KEEP_COMPARE_DIR: add to
# the figures collected before), BENCHMARKS_MD (the file whose results section is rewritten; default BENCHMARKS.md),
# SCENARIOS (default "mix ping lmtp flood idle bigbox hostile"; ping includes the pipelined NOOPs, pipe50.*, and flood
# the logged-in flood, flood_login.*), KEEP_COMMIT (the commit KEEP_BIN was built from, for the
# results header; default HEAD).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"

PAIRS=${PAIRS:-3}
MIX_SECONDS=${MIX_SECONDS:-20}
IDLE_COUNTS=${IDLE_COUNTS:-1000,10000}
IDLE_PAIRS=${IDLE_PAIRS:-1}
# Dovecot runs one imap process per connection: 10,000 of them would take ~10 GB on a shared machine, so by default
# it is measured at 1,000 only (set DOVECOT_IDLE_COUNTS=1000,10000 on a machine of your own).
DOVECOT_IDLE_COUNTS=${DOVECOT_IDLE_COUNTS:-1000}
BIGBOX_MESSAGES=${BIGBOX_MESSAGES:-10000,100000,1000000}
BIGBOX_PAIRS=${BIGBOX_PAIRS:-1}
HOSTILE_PAIRS=${HOSTILE_PAIRS:-1}
SCENARIOS=${SCENARIOS:-mix ping lmtp flood idle bigbox hostile}
USERS=50
has() { [[ " $SCENARIOS " == *" $1 "* ]]; }

if ! command -v dovecot >/dev/null || [[ ! -x /usr/lib/dovecot/imap || ! -x /usr/lib/dovecot/lmtp ]]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd dovecot-lmtpd
fi
build_bins

W=${KEEP_COMPARE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/keep-compare.XXXXXX")}
mkdir -p "$W/results"
chmod 755 "$W"  # Dovecot's unprivileged processes read its config and users below
KEEP_PID="" DOVECOT_PID="" FLOOR_PID="" NOBAN_PID=""
cleanup() {
    stop_pid "$FLOOR_PID"
    stop_pid "$NOBAN_PID"
    stop_pid "$KEEP_PID"
    stop_pid "$DOVECOT_PID"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- Keep
start_keep "$W/keep"
add_keep_users "$W/keep" "$USERS"
for ((i = 1; i <= 10; i++)); do  # LMTP recipients, apart from the mix users
    grep -qx "l$i" <<<"$("$KEEP_BIN" user list --data "$W/keep" | cut -f1)" \
        || "$KEEP_BIN" user add "l$i" --password "$BENCH_PASSWORD" --data "$W/keep" >/dev/null
done
echo "keep: pid $KEEP_PID imap $KEEP_IMAP lmtp $KEEP_LMTP"
if has flood; then
    # A second Keep with the flood ban off (imap.flood_ban_threshold = 0): the pending rule alone, Keep-only figures
    # (flood_noban.*), for comparison with the defaults.
    read -r main_pid main_imap main_lmtp <<<"$KEEP_PID $KEEP_IMAP $KEEP_LMTP"
    start_keep "$W/keep-noban" "flood_ban_threshold = 0"
    add_keep_users "$W/keep-noban" 3
    read -r NOBAN_PID NOBAN_IMAP NOBAN_LMTP <<<"$KEEP_PID $KEEP_IMAP $KEEP_LMTP"
    read -r KEEP_PID KEEP_IMAP KEEP_LMTP <<<"$main_pid $main_imap $main_lmtp"
    echo "keep (flood ban off): pid $NOBAN_PID imap $NOBAN_IMAP"
fi

# --- Dovecot (private instance)
D=$W/dovecot
mkdir -p "$D/run" "$D/state" "$D/mail" "$D/log"
DOVECOT_IMAP=127.0.0.1:$(free_port)
DOVECOT_LMTP=127.0.0.1:$(free_port)
: > "$D/users"
for ((i = 1; i <= USERS; i++)); do echo "u$i:{PLAIN}$BENCH_PASSWORD::::::" >> "$D/users"; done
for ((i = 1; i <= 10; i++)); do echo "l$i:{PLAIN}$BENCH_PASSWORD::::::" >> "$D/users"; done
chown -R dovecot:dovecot "$D/mail"
cat > "$D/dovecot.conf" <<CONF
# Private benchmark instance: loopback only, its own base_dir, state and mail under $D.
protocols = imap lmtp
listen = 127.0.0.1
base_dir = $D/run
state_dir = $D/state
instance_name = keep-bench-dovecot
log_path = $D/log/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = sdbox:~/sdbox
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $D/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $D/users
  default_fields = home=$D/mail/%n
}
# High-performance login mode (one login process serves many connections), as Dovecot documents for busy servers.
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${DOVECOT_IMAP##*:}
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = $(nproc)
  client_limit = 15000
}
service imap {
  process_limit = 12000
  client_limit = 1
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${DOVECOT_LMTP##*:}
  }
  unix_listener lmtp {
    mode = 0600
  }
}
service anvil {
  client_limit = 15000
}
service stats {
  client_limit = 15000
}
service auth {
  client_limit = 15000
}
service config {
  client_limit = 15000
}
default_vsz_limit = 0
protocol imap {
  mail_max_userip_connections = 20000
}
lmtp_save_to_detail_mailbox = no
CONF
dovecot -c "$D/dovecot.conf" -F &
DOVECOT_PID=$!
for ((i = 0; i < 100; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/${DOVECOT_IMAP##*:}") 2>/dev/null && break
    sleep 0.1
done
echo "dovecot: pid $DOVECOT_PID imap $DOVECOT_IMAP lmtp $DOVECOT_LMTP ($(dovecot --version))"

# --- Floor
"$KEEP_BENCH_BIN" floor-server --port 0 --lifetime 86400 2> "$W/floor.log" &
FLOOR_PID=$!
FLOOR_IMAP=127.0.0.1:$(wait_port "$W/floor.log" imap)

# bench SERVER PAIR NAME ARGS...: one run; metric lines go to results/all.tsv as "server key value unit".
bench() {
    local server=$1 pair=$2 name=$3
    shift 3
    local imap lmtp pid
    case $server in
        keep) imap=$KEEP_IMAP lmtp=$KEEP_LMTP pid=$KEEP_PID ;;
        keep-noban) imap=$NOBAN_IMAP lmtp=$NOBAN_LMTP pid=$NOBAN_PID ;;
        dovecot) imap=$DOVECOT_IMAP lmtp=$DOVECOT_LMTP pid=$DOVECOT_PID ;;
        floor) imap=$FLOOR_IMAP lmtp=127.0.0.1:1 pid=$FLOOR_PID ;;
    esac
    local out="$W/results/$server.$name.$pair.txt" limit=3600
    [[ $name == bigbox ]] && limit=21600  # a first fill of 1,000,000 messages
    echo "=== pair $pair: $name on $server"
    if ! timeout "$limit" "$KEEP_BENCH_BIN" "$@" --imap "$imap" --lmtp "$lmtp" --password "$BENCH_PASSWORD" \
        --server-pid "$pid" --label "${server%-noban}" > "$out" 2>&1; then
        echo "!!! $name on $server failed (see $out)"
    fi
    grep '^#' "$out" | sed 's/^/   /' || true
    grep '^metric ' "$out" | awk -v s="$server" -v p="$pair" -v n="$name" '{ k = $2; sub(/^[^.]*/, n, k); sub(/-noban$/, "", s); print s "\t" p "\t" k "\t" $3 "\t" $4 }' >> "$W/results/all.tsv" || true
}

[[ "${KEEP_RESULTS:-}" == 1 ]] || : > "$W/results/all.tsv"  # KEEP_RESULTS=1: add to the previous runs' figures
for ((pair = 1; pair <= PAIRS; pair++)); do
    for server in keep dovecot; do
        if has mix; then
            bench "$server" "$pair" mix10 mix --clients 10 --duration "$MIX_SECONDS"
            bench "$server" "$pair" mix50 mix --clients 50 --duration "$MIX_SECONDS"
        fi
        has ping && bench "$server" "$pair" ping ping --clients 50 --users 50
        has ping && bench "$server" "$pair" pipe50 ping --clients 10 --users 10 --pipeline 50
        has lmtp && bench "$server" "$pair" lmtp lmtp --sessions 10 --rcpt-prefix l
        has flood && bench "$server" "$pair" flood flood
        has flood && [[ $server == keep ]] && bench keep-noban "$pair" flood_noban flood
        # Logged in (users u3..u50 in turn, from 127.0.0.240.. so that the pre-login run's bans do not apply).
        has flood && bench "$server" "$pair" flood_login flood --flood-login --metric-prefix flood_login --flood-users "$USERS"
    done
    has ping && bench floor "$pair" ping ping --clients 50 --users 50
    has ping && bench floor "$pair" pipe50 ping --clients 10 --users 10 --pipeline 50
done
for ((pair = 1; pair <= IDLE_PAIRS; pair++)); do
    for server in keep dovecot; do
        counts=$IDLE_COUNTS
        [[ $server == dovecot ]] && counts=$DOVECOT_IDLE_COUNTS
        has idle && bench "$server" "$pair" idle idle --connections "$counts"
    done
done
# bigbox: each size its own mailbox (bigbox-N of u1), filled by the servers' own import tools from generated folders
# under $W/fill (kept filled in a reused KEEP_COMPARE_DIR; each run expunges 10,000 and the next refills them).
mkdir -p "$W/fill"
for ((pair = 1; pair <= BIGBOX_PAIRS; pair++)); do
    for server in keep dovecot; do
        fill=(--keep-bin "$KEEP_BIN" --keep-data "$W/keep")
        [[ $server == dovecot ]] && fill=(--doveadm-config "$D/dovecot.conf")
        has bigbox && bench "$server" "$pair" bigbox bigbox --messages "$BIGBOX_MESSAGES" --fill-dir "$W/fill" "${fill[@]}"
    done
done
if has bigbox; then
    # The plot (bench/bigbox.png): per command, time against mailbox size, Keep and Dovecot. matplotlib from Debian
    # (python3-matplotlib, for /usr/bin/python3) when no python3 on the PATH has it.
    PLOT_PYTHON=python3
    if ! python3 -c 'import matplotlib' 2>/dev/null; then
        PLOT_PYTHON=/usr/bin/python3
        "$PLOT_PYTHON" -c 'import matplotlib' 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq python3-matplotlib >/dev/null; } || true
    fi
    "$PLOT_PYTHON" "$ROOT/bench/plot_bigbox.py" "$W/results/all.tsv" "$ROOT/bench/bigbox.png" \
        --title "bigbox, Keep ${KEEP_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')} vs Dovecot $(dovecot --version | cut -d' ' -f1): p50 per command" \
        || echo "!!! plot_bigbox.py failed"
fi
# hostile: each attack class of issue 8 at the advisories' sizes (partial lines on 1,000 connections, 2,000 held
# connections: Dovecot's login processes may take ~1 GB here) while a legit client reads and logs in.
for ((pair = 1; pair <= HOSTILE_PAIRS; pair++)); do
    for server in keep dovecot; do
        has hostile && bench "$server" "$pair" hostile hostile
    done
done

# --- Summary: medians per figure and Keep/Dovecot; BENCHMARKS.md results section.
MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(free -g | awk '/Mem:/ { print $2 " GiB RAM" }'); $(uname -srvmo)"
python3 "$ROOT/bench/summarize.py" "$W/results/all.tsv" "${BENCHMARKS_MD:-$ROOT/BENCHMARKS.md}" \
    --machine "$MACHINE" --dovecot "$(dovecot --version)" --keep-commit "${KEEP_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')}" \
    --pairs "$PAIRS" --mix-seconds "$MIX_SECONDS" --idle-counts "$IDLE_COUNTS" --bigbox-messages "$BIGBOX_MESSAGES"
echo "results: $W/results (raw runs), ${BENCHMARKS_MD:-BENCHMARKS.md} updated"

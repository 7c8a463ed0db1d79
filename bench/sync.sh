#!/usr/bin/env bash
# Real pipelining clients at size (issue 13): stock mbsync (isync, no PipelineDepth) and offlineimap (offlineimap3),
# each plain and with STARTTLS, sync a 5,000-message mailbox down and a 5,000-message Maildir folder up against a fresh
# release Keep, then sync again. Passes only when every message arrived once on each side (no duplicate on the second
# sync) and Keep logged no pending-command reset and no flood ban. Prints `metric sync.CLIENT.TLS.{pull,push}_s`.
#
# Environment: MESSAGES (default 5000), KEEP_BIN (skip the build), CLIENTS (default "mbsync offlineimap").
# Binds only 127.0.0.1 on ports from the kernel; starts and stops only its own processes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
MESSAGES=${MESSAGES:-5000}
CLIENTS=${CLIENTS:-mbsync offlineimap}

for program in mbsync offlineimap python3; do
    command -v "$program" >/dev/null || { echo "sync: $program is not installed (apt-get install -y isync offlineimap3 python3)"; exit 1; }
done
if [[ -z "${KEEP_BIN:-}" ]]; then
    (cd "$ROOT" && swift build -c release --scratch-path .build-release --product keep >&2)
    KEEP_BIN=$(cd "$ROOT" && swift build -c release --scratch-path .build-release --show-bin-path)/keep
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/keep-sync.XXXXXX")
KEEP_PID=""
FAILED=0
cleanup() {
    stop_pid "$KEEP_PID"
    if [[ "$FAILED" != 0 ]]; then
        echo "--- last lines of the Keep log ($W/data/keep.log) ---"
        tail -n 30 "$W/data/keep.log" || true
    else
        rm -rf "$W"
    fi
}
trap cleanup EXIT

mkdir -p "$W/data"
"$KEEP_BIN" serve --data "$W/data" --imap 127.0.0.1:0 --lmtp 127.0.0.1:0 2> "$W/data/keep.log" &
KEEP_PID=$!
IMAP_PORT=$(wait_port "$W/data/keep.log" imap)
LMTP_PORT=$(wait_port "$W/data/keep.log" lmtp)
CERT=$W/data/tls/cert.pem
echo "keep: pid $KEEP_PID imap 127.0.0.1:$IMAP_PORT lmtp 127.0.0.1:$LMTP_PORT; $MESSAGES messages each way"

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
fail() { echo "!!! $*"; FAILED=$((FAILED + 1)); }

# STATUS MESSAGES of FOLDER for USER.
server_count() {
    python3 - "$IMAP_PORT" "$1" "$2" <<'PY'
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], 'sync-password')
typ, data = m.status(sys.argv[3], '(MESSAGES)')
print(data[0].decode().split('MESSAGES ')[1].rstrip(')') if typ == 'OK' else -1)
m.logout()
PY
}

# Maildir files of DIR (cur and new).
local_count() { find "$1/cur" "$1/new" -type f 2>/dev/null | wc -l; }

# USER: a new user whose INBOX gets MESSAGES messages over LMTP (one session, one transaction per message).
new_user() {
    local user=$1
    "$KEEP_BIN" user add "$user" --password sync-password --data "$W/data" >/dev/null
    python3 - "$LMTP_PORT" "$user" "$MESSAGES" <<'PY'
import smtplib, sys
port, user, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lm = smtplib.LMTP('127.0.0.1', port)
for i in range(n):
    body = f'From: sender@example.org\r\nTo: {user}@example.org\r\nSubject: message {i}\r\nMessage-ID: <{user}-{i}@example.org>\r\n\r\n' + 'a line of the body\r\n' * (1 + i % 50)
    assert lm.sendmail('sender@example.org', [f'{user}@example.org'], body) == {}
lm.quit()
PY
}

# DIR: a Maildir folder with MESSAGES new messages.
fill_maildir() {
    python3 - "$1" "$MESSAGES" <<'PY'
import os, sys, time
folder, n = sys.argv[1], int(sys.argv[2])
for sub in ('cur', 'new', 'tmp'):
    os.makedirs(os.path.join(folder, sub), exist_ok=True)
for i in range(n):
    with open(os.path.join(folder, 'new', f'{int(time.time())}.{i}.sync'), 'w') as f:
        f.write(f'From: up@example.org\nSubject: pushed {i}\nMessage-ID: <pushed-{i}-{time.time_ns()}@example.org>\n\n' + 'a pushed line\n' * (1 + i % 50))
PY
}

mbsync_rc() {  # USER DIR TLS
    local tls="SSLType None"
    [[ $3 == starttls ]] && tls="SSLType STARTTLS
CertificateFile $CERT"
    cat > "$2/mbsyncrc" <<EOF
IMAPAccount keep
Host 127.0.0.1
Port $IMAP_PORT
User $1
Pass sync-password
$tls

IMAPStore far
Account keep

MaildirStore near
Path $2/Mail/
Inbox $2/Mail/INBOX
SubFolders Verbatim

Channel keep
Far :far:
Near :near:
Patterns *
Create Both
SyncState *
EOF
}

offlineimap_rc() {  # USER DIR TLS
    local host=127.0.0.1 tls="starttls = no"
    # offlineimap checks DNS names only: connect by a name the self-signed certificate holds.
    [[ $3 == starttls ]] && host=localhost tls="starttls = yes
sslcacertfile = $CERT"
    cat > "$2/offlineimaprc" <<EOF
[general]
accounts = keep
metadata = $2/meta

[Account keep]
localrepository = near
remoterepository = far

[Repository near]
type = Maildir
localfolders = $2/Mail

[Repository far]
type = IMAP
remotehost = $host
remoteport = $IMAP_PORT
remoteuser = $1
remotepass = sync-password
ssl = no
$tls
EOF
}

run_client() {  # CLIENT DIR
    if [[ $1 == mbsync ]]; then
        timeout 600 mbsync -c "$2/mbsyncrc" keep > "$2/out.log" 2>&1
    else
        timeout 600 offlineimap -c "$2/offlineimaprc" -o -u basic > "$2/out.log" 2>&1 && ! grep -q ERROR "$2/out.log"
    fi
}

for client in $CLIENTS; do
    for tls in plain starttls; do
        label=$client.$tls
        user=${client:0:4}$tls
        dir=$W/$label
        mkdir -p "$dir/Mail"
        new_user "$user"
        "${client}_rc" "$user" "$dir" "$tls"
        echo "=== $label: pull $MESSAGES"
        t=$(now)
        run_client "$client" "$dir" || { fail "$label: pull failed"; tail -n 5 "$dir/out.log"; continue; }
        echo "metric sync.$label.pull_s $(since "$t") s"
        [[ $(local_count "$dir/Mail/INBOX") == "$MESSAGES" ]] || fail "$label: $(local_count "$dir/Mail/INBOX") of $MESSAGES messages pulled"
        echo "=== $label: push $MESSAGES"
        fill_maildir "$dir/Mail/Pushed"
        t=$(now)
        run_client "$client" "$dir" || { fail "$label: push failed"; tail -n 5 "$dir/out.log"; continue; }
        echo "metric sync.$label.push_s $(since "$t") s"
        echo "=== $label: sync again (nothing to do)"
        run_client "$client" "$dir" || fail "$label: the third sync failed"
        for folder in INBOX Pushed; do
            [[ $(server_count "$user" "$folder") == "$MESSAGES" ]] || fail "$label: the server has $(server_count "$user" "$folder") in $folder, not $MESSAGES"
            [[ $(local_count "$dir/Mail/$folder") == "$MESSAGES" ]] || fail "$label: the Maildir has $(local_count "$dir/Mail/$folder") in $folder, not $MESSAGES"
        done
    done
done

resets=$(grep -c "event=pending_commands_reset\|event=flood_ban" "$W/data/keep.log" || true)
echo "metric sync.resets $resets count"
[[ "$resets" == 0 ]] || fail "Keep reset or banned a syncing client $resets time(s)"
kill -0 "$KEEP_PID" 2>/dev/null || fail "Keep is no longer running"
echo "sync: $FAILED failure(s)"
exit $((FAILED > 0))

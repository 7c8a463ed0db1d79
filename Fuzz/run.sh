#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer + AddressSanitizer and runs each for $1 seconds (default 60); further
# arguments name the targets to run (default: all four).
# Fails on any crash, leak or timeout, and when the build came out uninstrumented.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(KeepIMAPFuzz KeepMIMEFuzz KeepSASLFuzz KeepLMTPFuzz)
for target in "${targets[@]}"; do
  bin=.build-fuzz/release/$target
  rm -f "$bin"  # a failed build must not leave an old binary to be fuzzed
  set +e
  swift build -c release --scratch-path .build-fuzz --sanitize=fuzzer --sanitize=address \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DKEEP_FUZZ --product "$target" 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] '
  build_status=${PIPESTATUS[0]}
  set -e
  [ "$build_status" -eq 0 ] && [ -x "$bin" ] || { echo "fuzz build of $target failed (exit $build_status)"; exit 1; }
  case $target in
    KeepIMAPFuzz) corpus=Fuzz/corpus/imap;;
    KeepMIMEFuzz) corpus=Fuzz/corpus/mime;;
    KeepSASLFuzz) corpus=Fuzz/corpus/sasl;;
    KeepLMTPFuzz) corpus=Fuzz/corpus/lmtp;;
    *) echo "unknown fuzz target $target"; exit 1;;
  esac
  work=$(mktemp -d)
  cp "$corpus"/* "$work"/
  log=$(mktemp)
  echo "== fuzzing $target for ${seconds}s"
  set +e
  SWIFT_BACKTRACE=enable=no "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work" >"$log" 2>&1
  status=$?
  set -e
  grep -E "Loaded|INFO: .*counters|stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY" "$log" | head -20 || true
  counters=$(grep -oE 'Loaded [0-9]+ modules +\(([0-9]+) inline 8-bit counters' "$log" | grep -oE '\(([0-9]+)' | tr -d '(' | head -1)
  if [ -z "$counters" ] || [ "$counters" -lt 1000 ]; then
    echo "$target looks uninstrumented (counters: ${counters:-none})"; tail -20 "$log"; exit 1
  fi
  if [ "$status" -ne 0 ]; then
    echo "$target found a problem (exit $status):"; tail -60 "$log"; ls "$work"; exit 1
  fi
  rm -rf "$work" "$log"
done
echo "fuzzing passed"

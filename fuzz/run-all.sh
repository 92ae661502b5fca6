#!/usr/bin/env bash
# Run every fuzz target for SECONDS (default 60) one after another, each from its
# committed seeds (corpus/TARGET, read-only; what the run finds goes to a scratch corpus
# under target/run-all), and print one line per target: runs, coverage points (libFuzzer's
# `cov`), corpus size (units, bytes) and crashes (crash, timeout, OOM or leak). Exits 1 if
# any target crashed; the reproducer is in artifacts/TARGET/, the log in target/run-all/.
#
# Toolchain: FUZZ_TOOLCHAIN (default nightly; empty = the pinned toolchain of
# rust-toolchain.toml). Sanitizer: FUZZ_SANITIZER (default address, which needs nightly;
# `none` builds on stable: the README's test command runs a short smoke run that way).
# cargo-fuzz must be installed (`cargo install cargo-fuzz`). Missing seeds are regenerated
# by make_seeds.sh. FUZZ_TARGETS (space-separated names) runs only those targets.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
tc=${FUZZ_TOOLCHAIN-nightly}
sanitizer=${FUZZ_SANITIZER:-address}
targets=$(grep -A1 '^\[\[bin\]\]' Cargo.toml | sed -n 's/^name = "\(.*\)"/\1/p')
if [ -n "${FUZZ_TARGETS:-}" ]; then
  for t in $FUZZ_TARGETS; do
    grep -qx "$t" <<<"$targets" || { echo "run-all.sh: no fuzz target $t (there are: $(echo $targets))" >&2; exit 2; }
  done
  targets=$FUZZ_TARGETS
fi
for t in $targets; do
  [ -d "corpus/$t" ] || ./make_seeds.sh "$t" >/dev/null
done
[ -f templates/stick.sparse ] || ./make_seeds.sh shelf_discover >/dev/null
bin=target/x86_64-unknown-linux-gnu/release
work=target/run-all
rm -rf "$work" && mkdir -p "$work"
cargo ${tc:++$tc} fuzz build -O --sanitizer "$sanitizer" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 2; }
failed=0
printf '%-16s %12s %8s %8s %12s %8s\n' target runs cov units bytes crashes
for t in $targets; do
  mkdir -p "$work/$t" "artifacts/$t"
  set +e
  "$bin/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" "$work/$t" "corpus/$t" >"$work/$t.log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$work/$t.log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/\([0-9a-zA-Z]*\).*/\1 \2/p' <<<"$last")
  crashes=$(grep -cE '^==[0-9]+== ?ERROR|deadly signal|^SUMMARY: libFuzzer: (timeout|out-of-memory)|^ALARM: working on the last Unit' "$work/$t.log" || true)
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
  [ "$crashes" -eq 0 ] || failed=1
  printf '%-16s %12s %8s %8s %12s %8s\n' "$t" "${runs:-?}" "${cov:-?}" ${corp:-? ?} "$crashes"
done
exit $failed

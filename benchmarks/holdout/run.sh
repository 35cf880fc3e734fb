#!/bin/bash
# Measurement (not a test): run `mixed` against holdout bugs, bugs the harness was never told
# about (see README.md here). Runs seed-major, skips a run whose report exists, appends one
# line per run to OUT/progress.txt; `tabulate.py OUT` prints the catches.
#
# usage: run.sh WORKTREE STATE_DIR OUT "bug:strategy ..." "seeds" [faults]
#   WORKTREE   a checkout with bugs.patch applied (and `harness up` done on STATE_DIR)
#   bug        a HOLDOUT_BUG name of bugs.patch (its scenario: default.toml + that env), or
#              correct (none)
set -u
WT=$1; STATE=$2; OUT=$3; PAIRS=$4; SEEDS=$5; FAULTS=${6:-mixed}
mkdir -p "$OUT/scenarios"
for pair in $PAIRS; do
  bug=${pair%%:*}
  env=""; [ "$bug" != correct ] && env="env = { HOLDOUT_BUG = \"$bug\" }"
  sed "s/^target_processes = \(.*\)$/target_processes = \1\n$env/" \
    "$WT/harness/scenarios/default.toml" > "$OUT/scenarios/$bug.toml"
done
for seed in $SEEDS; do for pair in $PAIRS; do
  bug=${pair%%:*}; strat=${pair##*:}
  d=$OUT/$bug-$strat-$FAULTS-s$seed
  [ -f "$d/report.json" ] && continue
  t=$(date +%s)
  (cd "$WT" && .venv/bin/harness --state-dir "$STATE" run --scenario "$OUT/scenarios/$bug.toml" \
     --strategy "$strat" --faults "$FAULTS" --duration 60s --seed "$seed" --out "$d" \
     > "$d.log" 2>&1); rc=$?
  echo "$bug $strat $FAULTS s$seed rc=$rc $(( $(date +%s)-t ))s" >> "$OUT/progress.txt"
done; done

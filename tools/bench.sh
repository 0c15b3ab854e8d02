#!/usr/bin/env bash
# Throughput benchmarks of the mini profile (tests/benchmarks, pytest-benchmark), compared with the committed baseline.
#   bash tools/bench.sh              run; write results/benchmarks/latest.json; exit 1 if any median is >10% slower
#                                    than the baseline's (results/benchmarks/<machine>/0001_baseline.json)
#   bash tools/bench.sh --baseline   run and make this run the new baseline (commit it)
# Extra arguments go to pytest (e.g. -k sampler). Run it on an otherwise idle machine: timings are wall-clock.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
PY=.venv/bin/python
STORE=results/benchmarks
ARGS=(tests/benchmarks --benchmark-storage="file://$STORE" --benchmark-json="$STORE/latest.json")
if [[ "${1:-}" == "--baseline" ]]; then
    shift
    rm -f "$STORE"/*/0001_baseline.json
    exec "$PY" -m pytest "${ARGS[@]}" --benchmark-save=baseline "$@"
fi
baseline=$(ls "$STORE"/*/0001_baseline.json 2>/dev/null | head -n 1 || true)
if [[ -z "$baseline" ]]; then
    echo "no baseline under $STORE/: run 'bash tools/bench.sh --baseline' first" >&2
    exit 2
fi
status=0
"$PY" -m pytest "${ARGS[@]}" --benchmark-compare=0001 --benchmark-compare-fail=median:10% "$@" || status=$?
# The two runs side by side (median and throughput), from the saved JSON files
.venv/bin/pytest-benchmark compare "$baseline" "$STORE/latest.json" --columns=median,ops --group-by=name --sort=name
exit $status

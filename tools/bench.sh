#!/usr/bin/env bash
# Throughput benchmarks of the mini profile (tests/benchmarks, pytest-benchmark), judged by `distill bench-judge`:
#   bash tools/bench.sh              run every benchmark, file the run under results/benchmarks/<machine fingerprint>/
#                                    and judge it: overhead ratios against their aims and normalised times against a
#                                    baseline on any machine; absolute medians against this fingerprint's baseline
#                                    only (limits: distill/bench/limits.py). A machine with no baseline gets this run
#                                    as its baseline (exit 0 if the portable checks pass).
#   bash tools/bench.sh --baseline   the same, and make this run the new baseline of this machine (commit it)
# Extra arguments go to pytest (e.g. -k sampler; --bench-device cuda on a GPU, filed under the GPU's fingerprint;
# --bench-profile paper for the paper networks). Run it on an otherwise idle machine: timings are wall-clock.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
PY=.venv/bin/python
STORE=results/benchmarks
JUDGE=()
if [[ "${1:-}" == "--baseline" ]]; then
    shift
    JUDGE=(--baseline)
fi
rm -f "$STORE/latest.json"
status=0
"$PY" -m pytest tests/benchmarks --throughput -p no:cacheprovider --benchmark-json="$STORE/latest.json" "$@" \
    || status=$?
if [[ ! -f "$STORE/latest.json" ]]; then
    echo "the benchmarks wrote no $STORE/latest.json (pytest exit status $status): nothing to judge" >&2
    exit 2
fi
if [[ $status -ne 0 ]]; then
    JUDGE+=(--incomplete)  # a benchmark failed: judge what ran, save no baseline
fi
"$PY" -m distill bench-judge "$STORE/latest.json" --store "$STORE" "${JUDGE[@]}" || status=$?
exit $status

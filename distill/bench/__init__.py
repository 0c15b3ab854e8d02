"""Throughput tracking across machines: the machine fingerprint that keys stored runs, the store of runs and
baselines per fingerprint (results/benchmarks/<fingerprint>/), and the judge of a run (tools/bench.sh).

The measurements themselves are pytest-benchmark tests in tests/benchmarks/."""

"""The limits a benchmark run is judged by (distill.bench.judge), one place for all of them.

Overhead ratios (an operation's time / the time its network passes take in the same calls) do not depend on the
machine, so their aims are limits on every machine and in CI. Normalised times (the fastest round / the fastest run of
the reference kernel of the same network shapes, timed between the benchmark's rounds) move little between machines and are compared with the
newest baseline of any machine. Absolute medians are compared only with the baseline of the same fingerprint."""

# overhead kind -> aim (the ratio must not exceed it)
OVERHEAD_AIMS = {
    "sampler": 1.05,  # sampler time / (NFE x one network forward)
    "training_step": 1.15,  # step time / its network passes (forwards and backwards of every network it runs)
    "features": 1.10,  # feature extraction of one seed range / the extractor's forward passes
    "fid": 1.10,  # features + Frechet distance to the reference / the extractor's forward passes
}
MEDIAN_LIMIT = 0.10  # a median more than 10% slower than the same fingerprint's baseline fails
NORMALISED_LIMIT = 0.25  # a normalised time more than 25% above the newest baseline's (any machine) fails

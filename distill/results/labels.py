"""Display names of the parameterizations and loss weightings, in the paper's order (the samplers' are their registry
labels: distill/reports/labels.py joins both)."""

TRAINING_LABELS = {"both": "(x, ε) combined", "x": "x", "eps": "ε", "v": "v",
                   "snr": "SNR", "snr_trunc": "Truncated SNR", "snr_plus_one": "SNR+1", "constant": "Constant",
                   "edm": "EDM"}
ORDER_P, ORDER_W = ["both", "x", "eps", "v"], ["snr", "snr_trunc", "snr_plus_one", "constant"]

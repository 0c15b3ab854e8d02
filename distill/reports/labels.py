"""Display names of the parameterizations, loss weightings and samplers, in the paper's order."""

LABELS = {"both": "(x, ε) combined", "x": "x", "eps": "ε", "v": "v",
          "snr": "SNR", "snr_trunc": "Truncated SNR", "snr_plus_one": "SNR+1", "constant": "Constant", "edm": "EDM",
          "ancestral": "Stochastic", "ddim": "DDIM", "euler": "Euler", "heun": "Heun", "dpm2": "DPM-Solver-2",
          "ipndm": "iPNDM", "dpmpp": "DPM-Solver++", "renoise": "S (2 forward, 1 back; reconstructed)",
          "onestep": "One step at sigma_max (DMD2)"}
ORDER_P, ORDER_W = ["both", "x", "eps", "v"], ["snr", "snr_trunc", "snr_plus_one", "constant"]

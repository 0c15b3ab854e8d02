"""The steps of the pipeline, one module each; the CLI and Snakemake rules call these."""

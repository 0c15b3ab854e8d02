"""The `distill` sub-commands as data: what each one is (its options, handler, kind of job, data parallelism, cost),
known without building the command line. `spec.Command` is one command; `index.every()` lists them all (the core
groups of this package and every registered method's, distill/plugins); distill/cli.py builds the parser from them;
the cluster resources (distill/workflow/resources.py) and the GPU-hours estimate (distill/workflow/gpu_hours.py) read
them without building it."""

"""The shared diffusion core: schedule, parameterizations, loss weights, samplers, seeding, checkpoints."""

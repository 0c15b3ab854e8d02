"""The suite's error types, in a leaf module: every folder may import them without importing what raises them
(`distill.config` re-exports ConfigError, the settings' loader being its main source)."""

from __future__ import annotations


class ConfigError(ValueError):
    """params.yaml is missing, unreadable or invalid; or a command's options or files are (the message names which
    and how to fix it)."""

"""The methods' plug-ins, one module per method (its card `METHOD`, layout and commands); the registry that finds
them is distill/registry.py."""

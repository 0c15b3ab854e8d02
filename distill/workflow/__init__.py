"""Files of the workflow generated from the method registry (dvc.yaml)."""

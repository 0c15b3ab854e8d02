"""Reports: tables and figures that put reproduced numbers beside the published ones."""

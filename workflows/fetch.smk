# External files the active profile reads (distill.data.artifacts): one rule each, `distill fetch NAME`, which
# downloads resumably, verifies the sha256 and puts the file in place (or, for a data set behind a login, verifies
# the file where the user put it and says where to get it). They run as local rules (compute nodes often have no
# network): distill/workflow/resources.py makes every rule whose command is not a computing job local.

from distill.data.artifacts import needs as artifact_needs

_NEEDS = artifact_needs(CFG)
for _i, _need in enumerate(_NEEDS):
    # fetch_<artifact>, numbered where the profile reads one artifact in several places (data.root of experiments)
    _name = _need.artifact.name
    _rule = f"fetch_{_name}" if [n.artifact.name for n in _NEEDS].count(_name) == 1 else f"fetch_{_name}_{_i}"

    rule:
        name: _rule
        output:
            str(_need.target),
        params:
            name=_name,
        log:
            f"{LOGS}/fetch/{_rule}.log",
        shell:
            "{DISTILL} fetch {CLI_ARGS} {params.name} > {log} 2>&1"

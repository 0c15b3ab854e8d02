import json
import re

from distill.core.checkpoint import file_sha256
from distill.core.provenance import code_version, machine, write_record
from distill.results.table import record_rows


def test_a_record_says_which_code_machine_and_inputs_made_it(tmp_path):
    (tmp_path / "in.bin").write_bytes(b"input")
    written = write_record(tmp_path / "r.json", {"fid": 1.5}, {"samples": tmp_path / "in.bin", "absent": None})
    record = json.loads((tmp_path / "r.json").read_text())
    assert record == json.loads(json.dumps(written))
    prov = record["provenance"]
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", prov["code"]["commit"]) and prov["code"]["dirty"] in (True, False, None)
    assert prov["machine"]["id"] == machine()["id"] and len(prov["machine"]["id"]) == 12
    for key in ("cpu", "cores", "isa", "torch", "blas", "gpu", "python", "os"):
        assert key in prov["machine"]
    assert prov["threads"] >= 1
    assert prov["inputs"] == {"samples": {"path": str(tmp_path / "in.bin"), "sha256": file_sha256(tmp_path / "in.bin")}}


def test_results_rows_carry_the_commit_and_machine_of_their_record(tmp_path):
    record = write_record(tmp_path / "r.json", {"status": "ok", "metrics": {"fid": {"min": 1.0, "mean": 2.0}},
                                                "per_range": [{"fid": 1.0}, {"fid": 3.0}]})
    rows = record_rows(record, method="m")
    commit = code_version()["commit"]
    assert {r["machine"] for r in rows} == {machine()["id"]}
    assert all(r["commit"].startswith(commit[:12]) for r in rows)
    old = record_rows({k: v for k, v in record.items() if k != "provenance"}, method="m")
    assert {(r["commit"], r["machine"]) for r in old} == {("", "")}


def test_the_report_footer_names_the_commit():
    from distill.reports.pdf import footer

    v = code_version()
    assert (v["commit"][:12] if v["commit"] != "unknown" else "unknown commit") in footer()

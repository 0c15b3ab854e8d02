"""The project-level commands: the results table, reproduced vs published, verify, fetch, and DVC's files."""

from __future__ import annotations


from distill.commands.spec import Command
from distill.results import PUBLISHED_CSV
from distill.commands.paths import output


def _remade_options(p):
    output(p, "--write", default=None, help="also write the comparison as CSV (e.g. results/<profile>/remade/"
                                            "table1.csv, which Table 1's page reads: the cross-machine figure)")


def _results_options(p):
    p.add_argument("parts", nargs="+", help="results/<profile>/rows/*.csv")
    output(p, "--out", required=True, help="output CSV (results/<profile>/results.csv)")


def _compare_options(p):
    p.add_argument("--results", default=None, help="results folder of the profile (default: results/<profile>)")
    p.add_argument("--published", default=str(PUBLISHED_CSV), help="published numbers (CSV; default: %(default)s)")
    p.add_argument("--md", default="reports/compare.md", help="output Markdown (default: %(default)s)")
    output(p, "--pdf", default="reports/compare.pdf", help="output PDF (default: %(default)s)")
    p.add_argument("--exit-zero", action="store_true",
                   help="write the report and exit 0 even when it fails (for the Snakemake target; CI omits it)")


def _verify_options(p):
    p.add_argument("--runs", nargs="+", required=True, metavar="RUN",
                   help="Table 1 runs <parameterization>-<weighting>-s<seed>, e.g. v-snr-s0")
    p.add_argument("--results", default=None, help="committed results folder (default: results/<profile>)")
    output(p, "--keep", folder=True, default=None,
           help="re-run in this folder and keep it (default: a temporary one); the tracked files are copied into it")
    output(p, "--out", default=None, help="also write the verdicts as CSV")


def _fetch_options(p):
    p.add_argument("names", nargs="*", metavar="NAME", help="artifacts to fetch (default: all the profile reads)")


def _dvc_yaml_options(p):
    p.add_argument("--write", default=None, help="write to this file (dvc.yaml) instead of printing")


def _dvc_relock_options(p):
    p.add_argument("stages", nargs="+", help="stage names, e.g. table1-mini pd-mini kd-mini fid_vs_n-mini compare-mini")


def _trend_options(p):
    p.add_argument("--kind", required=True, help="the claims' subject kind (e.g. guided, disback)")
    p.add_argument("--summaries", nargs="+", required=True, help="the subject's summary JSON at each budget")
    p.add_argument("--labels", nargs="+", required=True, help="one label per summary (e.g. x1 x4)")
    p.add_argument("--title", required=True, help="the page's title")
    output(p, "--pdf", required=True, help="output PDF")
    output(p, "--csv", required=True, help="output CSV")


COMMANDS = (
    Command("claim-trend", "distill.reports.trend:command",
            "a claim's budget trend: its checks on one experiment at two or more training budgets",
            "Check every claim about a subject kind on the summaries of the same experiment trained with different "
            "budgets (x1 and the copies of <method>.trend.factors) and put them side by side, so a claim that is "
            "not expected at a reduced scale shows which way its numbers move as the training grows. Writes a CSV "
            "and a PDF.", _trend_options),
    Command("results", "distill.handlers.project:results",
            "join the methods' parts of the results table into results/<profile>/results.csv",
            "Every evaluation of every method as tidy rows (distill.results.table): join the parts the methods' "
            "reports wrote into one long-format table.", _results_options),
    Command("compare", "distill.handlers.project:compare",
            "reproduced vs published for every number and claim; fails on a broken claim",
            "Put every published number (results/published/published.csv) beside this profile's reproduction "
            "(results/<profile>/results.csv) with their ratio, check every claim of the registry "
            "(distill/claims), list what is missing, and write reports/compare.md and .pdf. Exit status 1 when a "
            "claim expected at this profile's scale does not hold, or, at the paper scale, a number is farther "
            "from its published value than its tolerance.", _compare_options),
    Command("verify", "distill.handlers.project:verify",
            "re-run chosen Table 1 runs from scratch; judge each number by its tolerance",
            "Re-run the given Table 1 runs (e.g. v-snr-s0) from scratch in a fresh copy of the project's "
            "tracked files (classifier, reference statistics, teacher, samples, metrics all made again), and "
            "compare each re-made FID with the committed one in results/<profile>/results.csv. A number is "
            "within tolerance when it lies within 3 seed-to-seed standard deviations measured by the spread "
            "target (snakemake --cores all -- reports/table1_spread.pdf); without a measured spread it is "
            "shown but not judged. Exit status 1 when a judged number is outside its tolerance.", _verify_options),
    Command("remade", "distill.handlers.project:remade",
            "the committed FIDs this clone's runs re-made, each judged against the committed one",
            "A run on a fresh clone re-makes the committed results (the weights they came from are not in git) and "
            "writes over them. List every committed FID of results/<profile> whose working-tree version differs "
            "from git's HEAD: identical, within its tolerance (3 training-seed standard deviations of the "
            "committed spread, results/<profile>/spread/) or outside it, with the machines that made each. The "
            "main Snakemake job prints the summary when it ends.", _remade_options),
    Command("fetch", "distill.handlers.project:fetch",
            "download and verify the external files the profile reads (data sets, Inception)",
            "Put in place every external file the profile reads (or the NAMEs given): the CIFAR-10 archive "
            "(unpacked into data.root), torch-fidelity's Inception weights (at "
            "evaluation.feature_extractor_weights). Each is downloaded into a .part file (resumed if an earlier "
            "attempt was cut off), its sha256 checked, then renamed into place; a file already there is "
            "verified. ImageNet 64 needs a login: it is verified where you put it (data.root), and the error "
            "says where to get it. The workflow's fetch rules run this.", _fetch_options),
    Command("dvc-yaml", "distill.handlers.project:dvc_yaml",
            "print (or --write) dvc.yaml: a stage per method and profile",
            "dvc.yaml is generated from the method registry and the profiles of params.yaml: for each profile, "
            "one stage per method it runs (<method>-<profile>) calling the method's Snakemake target, listing "
            "only the params.yaml sections it reads, with its cached outputs, metrics and plots. A test checks "
            "the committed file is up to date.", _dvc_yaml_options),
    Command("dvc-relock", "distill.handlers.project:dvc_relock",
            "record a code or params change that leaves a stage's results as they are",
            "Re-record in dvc.lock the hashes of the named stages' dependencies (distill/, workflows/, Snakefile, "
            "params) as they are now, keeping the recorded hashes of their outputs; outputs not present here "
            "(not pulled) are not needed, unlike `dvc commit -f`. Only for a change that leaves the results "
            "bit-identical; otherwise re-make them with `dvc repro`.", _dvc_relock_options),
)

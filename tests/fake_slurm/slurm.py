#!/usr/bin/env python3
"""A stand-in for SLURM's commands on one machine, for tests/test_cluster.py: installed on PATH under the names the
SLURM executor plugin calls (sbatch, sacct, squeue, sinfo, scontrol, srun, scancel, sacctmgr, sshare), it runs each
submitted job here, at once, in the background (or, with FAKE_SLURM_SYNC set, before sbatch returns), and reports its
state as sacct would. Every sbatch call is recorded (one JSON line: its arguments) in
$FAKE_SLURM_DIR/submissions.jsonl, with the job's state in $FAKE_SLURM_DIR/jobs/."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_SLURM_DIR"])
JOBS = STATE / "jobs"


def sbatch(args: list[str]) -> None:
    call = " ".join(args)
    wrapped = re.search(r'--wrap=(.*)$', call, flags=re.S)
    script = wrapped.group(1) if wrapped else sys.stdin.read()
    if wrapped and script.startswith('"') and script.endswith('"'):
        script = script[1:-1].replace('\\"', '"')
    JOBS.mkdir(parents=True, exist_ok=True)
    job_id = str(1000 + len(list(JOBS.glob("*.state"))))
    output = re.search(r"--output[ =](\S+)", call)
    log = output.group(1).strip("'\"").replace("%j", job_id) if output else os.devnull
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(STATE / "submissions.jsonl", "a") as f:
        f.write(json.dumps({"job_id": job_id, "args": args}) + "\n")
    (JOBS / f"{job_id}.state").write_text("RUNNING")
    runner = (f"sh -c {shlex.quote(script)} > {shlex.quote(log)} 2>&1; rc=$?; "
              f"if [ $rc -eq 0 ]; then echo COMPLETED; else echo FAILED; fi > {JOBS / job_id}.state.tmp; "
              f"mv {JOBS / job_id}.state.tmp {JOBS / job_id}.state")
    env = {**os.environ, "SLURM_JOB_ID": job_id, "SLURM_CPUS_PER_TASK": "1", "SLURM_JOB_NAME": "fake"}
    proc = subprocess.Popen(["sh", "-c", runner], env=env, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (JOBS / f"{job_id}.pid").write_text(str(proc.pid))
    if os.environ.get("FAKE_SLURM_SYNC"):  # an idle cluster: the job has run when sbatch returns (the plugin's
        proc.wait()                       # first status query then sees it done, instead of polling for it)
    print(job_id)


def sacct(args: list[str]) -> None:
    call = " ".join(args)
    if "JobIdRaw,State" in call:
        for state in sorted(JOBS.glob("*.state")):
            print(f"{state.stem}|{state.read_text().strip()}")
    elif "Account" in call:
        print("none")
    elif "nodelist" in call:
        print("localhost")


def srun(args: list[str]) -> None:
    """Run the command after srun's options (the job step runs on this machine)."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 1
    command = args[i:]
    if command[:2] == ["sh", "-s"]:
        os.execvp("sh", ["sh", "-s"])
    os.execvp(command[0], command)


def scancel(args: list[str]) -> None:
    for job_id in args:
        pid = JOBS / f"{job_id}.pid"
        if pid.exists():
            try:
                os.killpg(int(pid.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass


def main() -> None:
    name, args = Path(sys.argv[0]).name, sys.argv[1:]
    if name == "sbatch":
        sbatch(args)
    elif name == "sacct":
        sacct(args)
    elif name == "srun":
        srun(args)
    elif name == "scancel":
        scancel(args)
    elif name == "sinfo":
        print("PARTITION\ngpu*")
    elif name == "scontrol":
        print("MinJobAge               = 300 sec")
    elif name in ("sacctmgr", "sshare"):
        print("none")
    # squeue: nothing queued (sacct answers the status queries)


if __name__ == "__main__":
    main()

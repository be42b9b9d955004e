"""A killed run resumes to the same result: ``kill -9`` of ``d2s train``, Ctrl-C of the workflow.

Both interrupted runs are finished by their own resume path and must end with the weights of an
uninterrupted reference run, bit for bit; stale ``.part`` files a kill leaves are cleaned.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from data_fixtures import train_cli, write_ic9600

# --- 5 and kills: stale parts are cleaned, a killed run resumes to the same result ---------------


def _subprocess_train(root: Path, out: Path, epochs: int) -> subprocess.Popen:
    argv = [sys.executable, "-m", "d2s", *train_cli(root, out, f"epochs={epochs}")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)  # fmt: skip


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _best_weights(run: Path) -> dict:
    from d2s.checkpoint import read_checkpoint

    return read_checkpoint(run / "best.pt", kind="model")["state_dict"]


#: Long enough that a kill at the first ``last.pt`` leaves ~15 epochs (~7 s here) to interrupt:
#: with 6, a loaded CI machine once let the run finish before the signal landed.
EPOCHS = 16


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """An uninterrupted tiny run (in a subprocess, as the killed one) and its dataset."""
    base = tmp_path_factory.mktemp("reference")
    root = write_ic9600(base / "ic")
    proc = _subprocess_train(root, base / "run", EPOCHS)
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, output
    return root, base / "run"


def test_kill_9_of_d2s_train_resumes_to_the_same_weights(reference_run, tmp_path):
    root, reference = reference_run
    run = tmp_path / "run"
    proc = _subprocess_train(root, run, EPOCHS)
    _wait_for(run / "last.pt", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "metrics.json").exists(), "finished before the kill; make the run longer"
    stale = run / ".last.pt.k9dead.part"  # what a kill inside a checkpoint write leaves
    stale.write_bytes(b"\0" * 1024)
    proc = _subprocess_train(root, run, EPOCHS)
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0 and "resuming" in output, output
    assert not stale.exists() and not list(run.glob(".*.part"))
    ours, theirs = _best_weights(run), _best_weights(reference)
    assert all(ours[k].equal(theirs[k]) for k in theirs)
    done = json.loads((run / "metrics.json").read_text())
    assert done["srcc"] == json.loads((reference / "metrics.json").read_text())["srcc"]


SNAKEFILE = """
rule all:
    input:
        "run/metrics.json",


rule train:
    output:
        "run/metrics.json",
    log:
        "logs/train.log",
    shell:
        "{PYTHON} -m d2s {ARGS} > {{log}} 2>&1"
"""


def _terminal_sigint() -> None:
    """A terminal's Ctrl-C reaches a foreground job; a shell's background job (`cmd &`, as a CI
    runner may start the tests) inherits SIGINT ignored, and so would every process below it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_of_the_workflow_then_rerun_incomplete_finishes_the_run(reference_run, tmp_path):
    import shlex

    root, reference = reference_run
    args = " ".join(shlex.quote(a) for a in train_cli(root, "run", f"epochs={EPOCHS}"))
    (tmp_path / "Snakefile").write_text(SNAKEFILE.format(PYTHON=sys.executable, ARGS=args))
    snakemake = [sys.executable, "-m", "snakemake", "--cores", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(snakemake, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=_terminal_sigint)  # fmt: skip
    _wait_for(tmp_path / "run" / "last.pt", proc, timeout=180)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends to the whole group
    proc.communicate(timeout=120)
    assert not (tmp_path / "run" / "metrics.json").exists(), (
        "finished before Ctrl-C; make it longer"
    )
    assert proc.returncode != 0
    done = subprocess.run([*snakemake, "--rerun-incomplete"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming" in (tmp_path / "logs" / "train.log").read_text()
    ours, theirs = _best_weights(tmp_path / "run"), _best_weights(reference)
    assert all(ours[k].equal(theirs[k]) for k in theirs)

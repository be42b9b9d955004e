# One job per GPU on a workstation (d2s/devices.py; README "On a GPU workstation"). Snakemake's
# `gpu` resource counts GPU jobs; `d2s gpu-slot` gives each its own device. Under SLURM each GPU
# job asks --gpus=1 and the cluster isolates it, so neither applies there.
import os

from d2s.devices import visible_gpus

RUNS_PER_GPU = COMPUTE.get("runs_per_gpu", 1)
GPUS = [] if SLURM else visible_gpus()


def cap_gpu_resource():
    """Unless the user set `gpu` (--resources, a profile), allow as many GPU jobs at once as there
    are slots: visible GPUs × runs_per_gpu, at least one (so GPU jobs on a machine without a GPU
    still run one at a time and then say why they cannot use the CPU)."""
    if SLURM or "gpu" in workflow.global_resources:
        return
    workflow.register_resource("gpu", max(1, len(GPUS) * RUNS_PER_GPU))


def gpu_slot(key):
    """Shell prefix of a rule: `d2s gpu-slot … --` for GPU jobs on a workstation, else nothing."""
    if SLURM or not uses_gpu(key):
        return ""
    return f"{D2S} gpu-slot --runs-per-gpu {RUNS_PER_GPU} --"


def exclusive_threads(key):
    """Threads of a job that must run alone (the latency benchmark): every core of a local run,
    so nothing else is scheduled beside it; under SLURM its own threads on a node held
    exclusively (slurm_extra --exclusive)."""
    return threads_of(key) if SLURM else os.cpu_count() or 1  # capped at --cores by Snakemake


def exclusive_request(key):
    """Resources of a job that must run alone: every GPU slot and, under SLURM, a whole node."""
    out = request(key)
    if SLURM:
        out["slurm_extra"] = "--exclusive"
    elif out["gpu"]:
        out["gpu"] = max(1, len(GPUS) * RUNS_PER_GPU)
    return out


cap_gpu_resource()


def preflight():
    """`d2s doctor`'s checks before the first job (not in dry runs): a blocker stops the workflow
    with one line per blocker naming the fix."""
    from d2s.doctor import run_checks

    findings = run_checks(config, local=not SLURM)
    blockers = [str(f) for f in findings if f.blocker]
    if blockers:
        raise WorkflowError(
            "pre-flight (d2s doctor) found blockers; nothing was run:\n" + "\n".join(blockers)
        )

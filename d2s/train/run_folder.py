"""A run folder is the suite's or nobody's: claimed, locked and matched to what the run reads.

``d2s train --out OUT`` writes only into a folder that is new, empty, or a run folder of its own:
it holds the run marker :data:`MARKER` (or, from before the marker, a suite ``last.pt``) and
nothing but the files a run writes (:data:`RUN_FILES`). Anything else is refused, nothing written.

While a run works, it holds an exclusive lock on ``OUT/.d2s-run.lock`` (``fcntl.flock``, released
by the kernel when the process ends, so a killed run never leaves a stale lock); a second run
on the same folder is refused, naming the holder.

A run's identity (:func:`run_inputs`) is its config fingerprint plus what the config's names
point at: a content hash of every split's (image, label) list, of the caption TSV or text-feature
file it reads, and the momentum model's precision as resolved on this machine (``auto`` is not a
precision). The marker, ``last.pt`` and ``metrics.json`` record it; a resume or a "run already
complete" needs it unchanged. A change is refused naming what changed, or with ``--restart``
the run's own files are removed and it starts afresh — results never mix two inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from d2s.core.io import atomic_write_text
from d2s.core.outputs import OutputRefused, check_output, name_of

MARKER = ".d2s-run.json"
LOCK = ".d2s-run.lock"
#: Every file a run writes into its folder (``d2s evaluate`` adds ``eval-*`` folders beside them).
RUN_FILES = ("last.pt", "best.pt", "log.csv", "predictions.csv", "metrics.json", MARKER, LOCK)


def _own_temporary(name: str) -> bool:
    """A :func:`d2s.core.io.atomic_path` temporary of one of the run's files (``.last.pt.x1y2.part``)."""
    return name.endswith(".part") and any(name.startswith(f".{f}.") for f in RUN_FILES)


def is_evaluation(folder: Path) -> bool:
    """Whether ``folder`` holds only what ``d2s evaluate`` writes (its metrics name the model's
    training set)."""
    names = {entry.name for entry in folder.iterdir()}
    allowed = {"metrics.json", "predictions.csv"}
    if not names <= allowed | {n for n in names if n.endswith(".part") and n.startswith(".")}:
        return False
    metrics = _read_json(folder / "metrics.json")
    return metrics is not None and "trained_on" in metrics


def foreign_entries(out: Path) -> list[str]:
    """Entries of ``out`` that a run did not write."""
    return sorted(
        entry.name
        for entry in out.iterdir()
        if not (
            entry.name in RUN_FILES
            or _own_temporary(entry.name)
            or (entry.name.startswith("eval-") and entry.is_dir() and is_evaluation(entry))
        )
    )


def is_run_folder(out: Path) -> bool:
    """Whether ``out`` is a run folder of ``d2s train`` (see the module docstring)."""
    if foreign_entries(out):
        return False
    if (out / MARKER).is_file() or {e.name for e in out.iterdir()} <= {LOCK}:
        return True  # marked, or claimed by a run that stopped before it marked it
    if not (out / "last.pt").is_file():
        return False
    from d2s.checkpoint import read_checkpoint

    read_checkpoint(out / "last.pt", kind="state")  # one that is not ours is refused, saying why
    return True


def config_reads(config) -> list[str]:
    """The files and folders a run reads (an output there is refused)."""
    keys = ("root", "split_dir", "captions", "text_features", "pretrained_file")
    return [value for key in keys if (value := getattr(config, key))]


def _hash_bytes(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _hash_items(items) -> str:
    text = "".join(f"{item.name}\t{float(item.label)!r}\n" for item in items)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def run_inputs(config, splits: dict[str, list | None]) -> dict[str, Any]:
    """The run's identity: fingerprint, resolved momentum precision and data hashes (``sources``
    names the file behind each hash, for messages only)."""
    from d2s.train.data import split_source

    data = {f"{name} split": _hash_items(items) for name, items in splits.items() if items}
    sources = {f"{name} split": split_source(config, name) for name in splits}
    if config.needs_text and config.text_features:
        data["text_features"] = _hash_bytes(config.text_features)
        sources["text_features"] = config.text_features
    elif config.needs_text and config.captions:
        data["captions"] = _hash_bytes(config.captions)
        sources["captions"] = config.captions
    return {
        "sources": sources,
        "fingerprint": config.fingerprint(),
        # the MoM's precision as it runs here (EAL runs only: no other run has a momentum model)
        "momentum_precision": config.momentum_precision_resolved if config.eal_mode_label else None,
        "data": data,
        "config": config.to_dict(),
    }


def changes(old: dict | None, new: dict) -> str:
    """What differs between two identities, in words (config keys, data, precision)."""
    if not isinstance(old, dict) or "data" not in old:
        return "it records no data hashes (written by an older version of the suite)"
    found = []
    old_config, new_config = old.get("config") or {}, new["config"]
    if old.get("fingerprint") != new["fingerprint"]:
        keys = [k for k in new_config if old_config.get(k) != new_config[k]]
        found += [f"{k} {old_config.get(k)!r} -> {new_config[k]!r}" for k in keys] or ["config"]
    if old.get("momentum_precision") != new["momentum_precision"]:
        found.append(
            f"momentum precision {old.get('momentum_precision')} -> {new['momentum_precision']}"
        )
    for key in sorted(set(old["data"]) | set(new["data"])):
        if old["data"].get(key) != new["data"].get(key):
            found.append(f"the {key} ({new.get('sources', {}).get(key, '?')})")
    return "changed: " + ", ".join(found)


def same_run(old: dict | None, new: dict) -> bool:
    keys = ("fingerprint", "momentum_precision", "data")
    return isinstance(old, dict) and all(old.get(k) == new[k] for k in keys)


class RunFolder:
    """``d2s train``'s hold on its output folder: checked, locked, marked (see module docstring)."""

    def __init__(self, out: str | os.PathLike, inputs: list[str | os.PathLike]) -> None:
        self.out = Path(out)
        check_output(
            self.out,
            command="train",
            inputs=inputs,
            ours=is_run_folder,
            folder=True,
            hint=f"A run writes only into a new or empty folder, or its own (it holds {MARKER}): "
            "choose another --out",
        )

    def claim(self, inputs: dict, restart: bool) -> dict | None:
        """Create and lock the folder, then :meth:`reconcile`; a refusal changes nothing in it.
        Returns the finished metrics of a complete, current run, else None."""
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock()
        finished = self.reconcile(inputs, restart)
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        self._handle.flush()
        for part in self.out.glob(".*.part"):
            # a run's own temporaries only: under the lock, any found belong to a dead process
            if _own_temporary(part.name) and part.is_file() and not part.is_symlink():
                part.unlink(missing_ok=True)
        return finished

    def _lock(self) -> None:
        import fcntl

        path = self.out / LOCK
        self._handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the run)
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._handle.seek(0)
            lines = self._handle.read().split("\n")
            holder = next((line for line in reversed(lines) if line.strip()), "another process")
            self._handle.close()
            raise OutputRefused(
                f"--out {name_of(self.out)} is in use by another d2s train ({holder}); wait for "
                "it to finish, or choose another --out"
            ) from None

    def reconcile(self, inputs: dict, restart: bool) -> dict | None:
        """Match the folder's run to ``inputs``: the finished metrics when it is complete and
        current, else None (resume or start); a different run is refused or, with ``restart``,
        removed."""
        recorded = self._recorded()
        has_run = any((self.out / name).exists() for name in RUN_FILES[:5])
        if has_run and not same_run(recorded, inputs):
            if not restart:
                raise OutputRefused(
                    f"--out {name_of(self.out)} holds a run of other inputs "
                    f"({changes(recorded, inputs)}); pass --restart to discard it and train "
                    "afresh, or choose another --out"
                )
            print(
                f"{self.out}: {changes(recorded, inputs)}; discarding the old run, training afresh"
            )
            self._discard()
        atomic_write_text(
            json.dumps({"made_by": "d2s train", **inputs}, indent=1) + "\n", self.out / MARKER
        )
        metrics = self._metrics()
        if metrics is not None and same_run(metrics.get("inputs"), inputs):
            return metrics
        return None

    def _recorded(self) -> dict | None:
        """The identity of the run in the folder: the marker's, else the oldest suite files'."""
        for source in (self.out / MARKER, self.out / "metrics.json"):
            record = _read_json(source)
            if record is not None:
                return record if source.name == MARKER else record.get("inputs")
        if (self.out / "last.pt").is_file():
            from d2s.checkpoint import read_checkpoint

            return read_checkpoint(self.out / "last.pt", kind="state").get("inputs")
        return None

    def _metrics(self) -> dict | None:
        return _read_json(self.out / "metrics.json")

    def _discard(self) -> None:
        for name in RUN_FILES[:5]:
            (self.out / name).unlink(missing_ok=True)
        for folder in self.out.glob("eval-*"):  # evaluations of the discarded model
            if folder.is_dir() and not folder.is_symlink() and is_evaluation(folder):
                shutil.rmtree(folder)


def _read_json(path: Path) -> dict | None:
    """A JSON object file of the run, or None when missing or unreadable (a killed write's
    leftovers are the run's own: it is rewritten)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None

"""Files ``d2s score`` is handed as a checkpoint that are not one: each refused with its name.

A pickle with code in it is refused before anything in it runs; other files get a message that
says what they are. The model is an untrained D2S-R18 in a suite checkpoint (conftest).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from PIL import Image
from scoring_helpers import pattern, save, score_cli

from d2s.checkpoint import CheckpointError, save_checkpoint
from d2s.inference.scoring import load

pytestmark = pytest.mark.usefixtures("one_thread")


class _Payload:
    """Pickles to a call of ``Path.touch`` on load: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_with_code_is_refused_and_never_run(tmp_path, capsys):
    marker = tmp_path / "executed"
    evil = tmp_path / "evil.pt"
    torch.save({"model_state": {"w": torch.zeros(1)}, "hook": _Payload(marker)}, evil)
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps({"model_state": _Payload(marker)}))
    for path in (evil, raw):
        with pytest.raises(CheckpointError, match=rf"{path.name}: .*nothing in it was executed"):
            load(path)
        code, _, err = score_cli([str(evil), "-c", str(path)], capsys)
        assert code == 2 and str(path) in err
        assert not marker.exists()
    with pytest.raises(CheckpointError, match=r"evil\.pt: .*pickled Python objects \(\w+\)"):
        load(evil)
    pickle.loads(raw.read_bytes())  # the payload is real: unrestricted unpickling runs it
    assert marker.exists()


def test_files_that_are_not_checkpoints_give_clear_errors(untrained_checkpoint, tmp_path, capsys):
    image = save(tmp_path / "x.png", Image.fromarray(pattern()))
    cases = {
        "missing.pt": (None, "checkpoint not found"),
        "text.pt": (b"hello", "not a PyTorch checkpoint"),
        "image.pt": (image.read_bytes(), "not a PyTorch checkpoint"),
    }
    for name, (content, message) in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=rf"{name}: .*{message}"):
            load(tmp_path / name)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(
        CheckpointError, match=r"other\.pt: not a known checkpoint format.*'weights'"
    ):
        load(tmp_path / "other.pt")
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=r"list\.pt: not a known checkpoint format.*a list"):
        load(tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="without best.pt"):
        load(tmp_path)
    # a resume state (last.pt) is not a model checkpoint
    save_checkpoint({"epoch": 1, "task": {}}, tmp_path / "last.pt", kind="state")
    with pytest.raises(CheckpointError, match=r"last\.pt: holds a 'state' checkpoint.*best\.pt"):
        load(tmp_path / "last.pt")
    # a caption-reading model cannot score images alone
    data = torch.load(untrained_checkpoint, weights_only=True)
    data["model_name"] = "caption-only"
    torch.save(data, tmp_path / "caption.pt")
    with pytest.raises(CheckpointError, match="reads captions at test time"):
        load(tmp_path / "caption.pt")
    # the CLI shows the same message, exit status 2
    code, _, err = score_cli([str(image), "-c", str(tmp_path / "other.pt")], capsys)
    assert code == 2 and "d2s score: error:" in err and "other.pt" in err

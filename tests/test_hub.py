"""``hubconf.py``: ``torch.hub.load(clone, "d2s_r18", checkpoint=..., source="local")`` for every
image-only model of Table 1, from a path or an URL whose SHA-256 is checked."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import torch
from icnet_official import randomised
from scoring_helpers import pattern

import d2s
from d2s.inference.pyiqa import metric_names

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def hub_dir(tmp_path):
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield
    torch.hub.set_dir(before)


def hub(entry: str, **kwargs):
    return torch.hub.load(str(REPO), entry, source="local", trust_repo=True, **kwargs)


def test_entry_points_are_the_models_of_the_table():
    import importlib.util

    spec = importlib.util.spec_from_file_location("hubconf_listed", REPO / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = {n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_")}
    expected = {m.replace("-", "_") for m in metric_names()}
    assert {"d2s_r18", "d2s_r50", "icnet"} <= expected <= names


def test_local_path_scores_like_d2s_load(untrained_checkpoint):
    scorer = hub("d2s_r18", checkpoint=str(untrained_checkpoint))
    image = torch.from_numpy(pattern(40, 40)).permute(2, 0, 1)
    assert scorer.score(image) == d2s.load(untrained_checkpoint).score(image)
    with pytest.raises(ValueError, match="holds model 'd2s-r18', not 'd2s-r50'"):
        hub("d2s_r50", checkpoint=str(untrained_checkpoint))
    with pytest.raises(ValueError, match="SHA-256 .* does not start with 0000"):
        hub("d2s_r18", checkpoint=str(untrained_checkpoint), sha256="0000")


def test_url_is_hash_checked(tmp_path):
    ck = tmp_path / "ck.pth"
    torch.save(randomised().state_dict(), ck)
    digest = hashlib.sha256(ck.read_bytes()).hexdigest()
    url = ck.as_uri()
    with pytest.raises(ValueError, match="give sha256"):
        hub("icnet", checkpoint=url)
    with pytest.raises(RuntimeError, match="invalid hash value"):
        hub("icnet", checkpoint=url, sha256="0" * 16)
    assert not list((tmp_path / "hub").rglob("ck.pth"))  # a bad download is not kept
    scorer = hub("icnet", checkpoint=url, sha256=digest[:16])
    assert (scorer.name, scorer.image_size) == ("icnet", 512)
    named = tmp_path / f"icnet-{digest[:10]}.pth"  # torch.hub's check_hash convention
    shutil.copy(ck, named)
    assert hub("icnet", checkpoint=named.as_uri()).name == "icnet"

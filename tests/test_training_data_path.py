"""The training data path: cached, device-resident and per-image reads train bitwise alike; the
refresh's images come prefetched with the batch; per-step data / compute time is logged."""

import pandas as pd
import pytest
import torch

from d2s.data.demo import make_demo
from d2s.train.checks import ConfigError
from d2s.train.config_file import load_config
from d2s.train.engine import Run
from d2s.train.loading import RefreshPlanner


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo(root, seed=0, size=32, image_size=32)
    return dict(
        root=str(root),
        captions=str(root / "captions.tsv"),
        clip_weights="random",
        text_cache=str(tmp_path_factory.mktemp("text-cache")),
        image_cache=str(tmp_path_factory.mktemp("image-cache")),
        model="d2s-r18",
        image_size=32,
        epochs=2,
        batch_size=8,
        eval_batch_size=16,
        buffer_size=8,
        refresh_steps=2,
        pretrained=False,
        device="cpu",
        threads=1,
    )


def run(overrides, out, monkeypatch=None):
    """Train; returns (final state dict, refresh fallbacks of the last epoch, log)."""
    trained = Run(load_config(overrides=overrides), out, progress=False)
    trained.train()
    state = torch.load(out / "last.pt", weights_only=False)["task"]
    return state, trained.data.refresh_misses, pd.read_csv(out / "log.csv")


@pytest.fixture(scope="module")
def reference(base, tmp_path_factory):
    return run({**base, "image_cache": "off"}, tmp_path_factory.mktemp("off"))


@pytest.mark.parametrize(
    "mode", [dict(image_cache_device="never"), dict(image_cache_device="always")], ids=str
)
def test_cached_runs_train_bitwise_as_the_per_image_path(base, reference, mode, tmp_path):
    state, misses, _ = run({**base, **mode}, tmp_path)
    want, want_misses, _ = reference
    assert misses == 0 and want_misses == 0  # every refresh was served from the prefetch
    assert state.keys() == want.keys()
    for key in want:  # model, momentum model and EAL buffers
        assert torch.equal(state[key], want[key]), key


def test_a_wrong_refresh_prediction_falls_back_to_reading_the_images(
    base, reference, tmp_path, monkeypatch
):
    real_next = RefreshPlanner.next
    monkeypatch.setattr(RefreshPlanner, "next", lambda self, ids: real_next(self, ids)[::-1])
    state, misses, _ = run({**base, "image_cache": "off"}, tmp_path)
    # every step of the last epoch refreshes (3 steps of 8 of 24 images): each one read its
    # images itself; the extra flip draws of the unused prefetch change the run, not its shape
    assert misses == 3
    assert state.keys() == reference[0].keys()


def test_log_and_progress_line_report_data_and_compute_time(base, tmp_path, capsys):
    Run(load_config(overrides=base), tmp_path, progress=True).train()
    log = pd.read_csv(tmp_path / "log.csv")
    assert (log["data_ms"] > 0).all() and (log["compute_ms"] > 0).all()
    # compute dominates on CPU at 32 px once the images come from the cache
    assert (log["compute_ms"] > log["data_ms"]).all()
    out = capsys.readouterr().out
    assert "per step: data" in out and "compute" in out


def test_device_cache_always_needs_the_cache(base):
    with pytest.raises(ConfigError, match="image_cache_device"):
        load_config(overrides={**base, "image_cache": "off", "image_cache_device": "always"})
    with pytest.raises(ConfigError, match="image_cache_device"):
        load_config(overrides={**base, "image_cache_device": "gpu"})


def test_device_cache_auto_takes_cuda_only_when_the_cache_fits(monkeypatch):
    from d2s.train.loading import resident_on_device

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    gib = 2**30
    assert not resident_on_device("auto", gib, cpu)  # off by default on the CPU
    assert resident_on_device("always", gib, cpu) and not resident_on_device("never", gib, cuda)
    # 10 GiB free: a cache of up to half of it goes to the device (no GPU needed to check this)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10 * gib, 80 * gib))
    assert resident_on_device("auto", 5 * gib, cuda)
    assert not resident_on_device("auto", 6 * gib, cuda)


def test_training_batches_keep_the_shuffle_order_of_the_per_item_loop(base, tmp_path):
    """Same seed, same batches as the suite's recorded results were trained with: those of a
    DataLoader(shuffle=True) iterated through tqdm.auto (whose throwaway iterator draws one base
    seed first); the step count is the loader's."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from d2s.train.data import train_and_selection_items
    from d2s.train.loading import epoch_seed

    trained = Run(load_config(overrides={**base, "image_cache": "off"}), tmp_path, progress=False)
    train_items, _ = train_and_selection_items(trained.config)
    split = trained.data.split("train", train_items, False)
    for epoch in (0, 1):
        got = [step.ids.tolist() for step in trained.data.train_loader(split, epoch, None)]
        assert len(got) == trained.data.steps_per_epoch(split)
        generator = torch.Generator().manual_seed(epoch_seed(trained.config.seed, epoch))
        legacy = DataLoader(
            range(len(train_items)), batch_size=8, shuffle=True, generator=generator
        )
        assert got == [b.tolist() for b in tqdm(legacy, disable=True)]

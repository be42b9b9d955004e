"""Decoded-image cache: bitwise the PIL path's tensors, rebuilt when stale, never used half-built."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from d2s.data.cache import build_cache, cache_file, ensure_cache, manifest_path, stale_reason
from d2s.data.records import DatasetError, Item
from d2s.data.torch_dataset import CachedImageDataset, ImageDataset
from d2s.train.data import cached_image_transform, image_transform
from d2s.train.loading import DeviceImages, FlipDraws

SIZE = 40


def write_images(folder, count=6):
    """Odd-sized JPEGs plus a grey PNG and an RGBA PNG (the conversions of ``to_rgb``)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(count):
        array = rng.integers(0, 256, (61 + 7 * i, 97 - 5 * i, 3), dtype=np.uint8)
        path = folder / f"img_{i}.jpg"
        Image.fromarray(array).save(path, quality=90)
        items.append(Item(path.name, path, i / count))
    grey = folder / "grey.png"
    Image.fromarray(rng.integers(0, 256, (50, 70), dtype=np.uint8), mode="L").save(grey)
    rgba = folder / "alpha.png"
    Image.fromarray(rng.integers(0, 256, (45, 33, 4), dtype=np.uint8), mode="RGBA").save(rgba)
    return [*items, Item("grey.png", grey, 0.3), Item("alpha.png", rgba, 0.7)]


@pytest.fixture
def images(tmp_path):
    items = write_images(tmp_path / "images")
    npy = cache_file(tmp_path / "cache", "ic9600", "train", SIZE, str(tmp_path))
    return items, npy


@pytest.mark.parametrize("train", [True, False], ids=["train-with-flip", "eval"])
def test_cached_tensors_are_bitwise_those_of_the_pil_path(images, train):
    items, npy = images
    cache, built = ensure_cache(npy, items, SIZE)
    assert built
    pil = ImageDataset(items, image_transform(SIZE, train))
    cached = CachedImageDataset(cache, items, cached_image_transform(train))
    for seed in range(3):  # several flip draws per image
        for i in range(len(items)):
            torch.manual_seed(seed * 100 + i)
            want = pil[i]
            torch.manual_seed(seed * 100 + i)
            got = cached[i]
            assert torch.equal(got[0], want[0]), (items[i].name, seed)
            assert torch.equal(got[1], want[1]) and got[2] == want[2]


def test_device_resident_batches_are_bitwise_those_of_the_pil_path(images):
    items, npy = images
    cache, _ = ensure_cache(npy, items, SIZE)
    pil = ImageDataset(items, image_transform(SIZE, True))
    indices = (3, 0, 7, 5, 1, 6)
    torch.manual_seed(7)
    want = torch.stack([pil[i][0] for i in indices])
    torch.manual_seed(7)  # FlipDraws draws one flip per image, as RandomHorizontalFlip does
    payload = FlipDraws(torch.from_numpy(cache.rows_of(items)), hflip=True)(indices)
    assert payload["flips"].any() and not payload["flips"].all()  # both cases exercised
    got = DeviceImages.from_cache(cache, torch.device("cpu"))(payload)
    assert torch.equal(got, want)


def test_a_current_cache_is_reused_and_a_subset_maps_to_its_rows(images):
    items, npy = images
    ensure_cache(npy, items, SIZE)
    cache, built = ensure_cache(npy, items, SIZE)
    assert not built
    subset = [items[4], items[1]]
    assert cache.rows_of(subset).tolist() == [4, 1]
    stranger = Item("x.jpg", npy.parent / "x.jpg", 0.0)
    with pytest.raises(DatasetError, match="not in this cache"):
        cache.rows_of([stranger])


def test_a_changed_added_or_removed_image_makes_the_cache_stale(images):
    items, npy = images
    ensure_cache(npy, items, SIZE)
    assert stale_reason(npy, items, SIZE) is None
    assert "removed" in stale_reason(npy, items[1:], SIZE)
    extra = write_images(npy.parent.parent / "more", count=1)[0]
    assert "added" in stale_reason(npy, [*items, extra], SIZE)
    assert "px" not in str(stale_reason(npy, items, SIZE + 8))  # another size is another cache
    assert stale_reason(npy, items, SIZE + 8).startswith("manifest size")
    # rewrite one image with other pixels: the cache is rebuilt and serves the new pixels
    changed = items[2].path
    Image.fromarray(np.zeros((20, 30, 3), dtype=np.uint8)).save(changed, quality=90)
    os.utime(changed, ns=(1, 1))  # even an old mtime differs from the recorded one
    assert "changed" in stale_reason(npy, items, SIZE)
    cache, built = ensure_cache(npy, items, SIZE)
    assert built
    eval_pil = ImageDataset(items, image_transform(SIZE, False))
    eval_cached = CachedImageDataset(cache, items, cached_image_transform(False))
    assert torch.equal(eval_cached[2][0], eval_pil[2][0])


def test_a_killed_build_is_never_taken_as_complete(images, monkeypatch):
    items, npy = images
    import d2s.data.cache as cache_module

    real = cache_module._ResizedArray.__getitem__

    def dies_on_the_fifth(self, index):
        if index == 4:
            raise KeyboardInterrupt("killed")
        return real(self, index)

    monkeypatch.setattr(cache_module._ResizedArray, "__getitem__", dies_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        build_cache(npy, items, SIZE)
    assert not npy.exists() and not manifest_path(npy).exists()
    # a SIGKILL leaves the temporary array behind: it has another name and is not read
    (npy.parent / f".{npy.name}.abc.part").write_bytes(b"\0" * 100)
    monkeypatch.setattr(cache_module._ResizedArray, "__getitem__", real)
    assert stale_reason(npy, items, SIZE) == "no cache yet"
    # killed between the array's rename and the manifest's write: the array is not trusted
    build_cache(npy, items, SIZE)
    manifest_path(npy).unlink()
    assert "no manifest" in stale_reason(npy, items, SIZE)
    # an array replaced after its manifest was written (another build's) is not trusted either
    build_cache(npy, items, SIZE)
    np.save(npy, np.zeros((len(items), 3, SIZE, SIZE), dtype=np.uint8))
    assert "not the one" in stale_reason(npy, items, SIZE)
    cache, built = ensure_cache(npy, items, SIZE)
    assert built and cache.array.any()


def test_a_corrupt_image_stops_the_build_naming_it(images):
    items, npy = images
    items[3].path.write_bytes(items[3].path.read_bytes()[:100])
    with pytest.raises(DatasetError, match="img_3.jpg"):
        ensure_cache(npy, items, SIZE)
    assert not npy.exists()


def test_false_spellings_of_image_cache_are_off_not_a_folder():
    """A YAML ``off`` (bool False) passed on as the word ``False`` must not become a folder."""
    from d2s.data.cache import cache_setting
    from d2s.train.config import TrainConfig
    from d2s.train.data import image_cache_dir

    for value in (False, "False", "false", "off", "OFF", "no", "none"):
        assert cache_setting(value) == "off"
        assert image_cache_dir(TrainConfig(root="x", image_cache=value)) is None
    assert cache_setting(True) == "auto"
    assert image_cache_dir(TrainConfig(root="x", image_cache="some/dir")) == "some/dir"

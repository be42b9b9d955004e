"""Dataset archives as their hosts serve them, small, for fetching offline from a local mirror.

A mirror folder holds each file at ``<mirror>/<host>/<path of its URL>``
(:func:`d2s.data.fetch.mirror_path`); ``d2s data fetch`` reads from it instead of the network
when ``D2S_MIRROR`` names it, and otherwise runs unchanged (unpack, assemble, verify, mark).

**pyiqa's Hugging Face mirror** (pyiqa 0.1.16, ``pyiqa/data/dataset_api.py`` and
``pyiqa/default_dataset_configs.yml``): the dataset repository ``chaofengc/IQA-PyTorch-Datasets``
serves one archive per set, unpacked by pyiqa into its data root:

==========  ===============  ===========================================================
set         archive          inner folders (pyiqa's ``dataroot_target`` / ``dataroot_ref``)
==========  ===============  ===========================================================
KADID-10K   ``kadid10k.tgz``  ``kadid10k/images/`` (distorted ``I01_01_01.png`` and
                              references ``I01.png`` side by side)
KonIQ-10K   ``koniq10k.tgz``  ``koniq10k/512x384/`` (``<id>.jpg``)
TID2013     ``tid2013.tgz``   ``tid2013/distorted_images/`` (``i01_01_1.bmp``),
                              ``tid2013/reference_images/`` (``I01.BMP``)
==========  ===============  ===========================================================

pyiqa does not read labels from these archives: it downloads the separate dataset repository
``chaofengc/IQA-PyTorch-Datasets-metainfo`` into ``<data root>/meta_info/`` and reads
``meta_info_KADID10kDataset.csv`` (``ref_name,dist_name,dmos,std``; 1-5, higher = better),
``meta_info_KonIQ10kDataset.csv`` (``img_name,mos,std,...``; MOS on 0-100) and
``meta_info_TID2013Dataset.csv`` (``ref_name,dist_name,mos,std``; 0-9). Column layouts as pyiqa's
``scripts/process_{kadid10k,koniq10k,tid}.py`` write them and its ``GeneralFRDataset`` /
``GeneralNRDataset`` read them (name columns first, score next). The archives written here hold
no label file of their own, so a fetch that expects the official ``dmos.csv`` (etc.) inside the
archive fails here as it would on the real mirror.

**Savoias** as GitHub serves the branch archive of ``esaraee/Savoias-Dataset``
(``archive/refs/heads/master.zip``): one top folder ``Savoias-Dataset-master/`` holding
``Images/<Category>/<i>.jpg`` (1-based) and ``Ground truth/xlsx/global_ranking_<key>.xlsx`` (one
column ``gt``, row i = image i), as :mod:`d2s.data.savoias` documents.

Images are seeded smooth gradients with noise at each set's real size (512x384), so they decode
and compress like photographs, not like blank files.
"""

from __future__ import annotations

import csv
import io
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from d2s.data.fetch import (
    HF_META_REPO,
    HF_REPO,
    META_FILES,
    SOURCES,
    hf_url,
    mirror_path,
)

IQA_SIZE = (512, 384)  # (width, height) of KADID-10K, KonIQ-10K (512x384) and TID2013 images


def _image(rng: np.random.Generator, size: tuple[int, int]):
    from PIL import Image

    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    colour = rng.uniform(0, 255, (3,))
    slope = rng.uniform(-0.3, 0.3, (2, 3))
    base = colour + x[..., None] * slope[0] + y[..., None] * slope[1]
    noise = rng.normal(0, rng.uniform(2, 30), (height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def _encode(image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.partial")
    temp.write_bytes(data)
    os.replace(temp, path)


def _tgz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _csv(header: list[str], rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _kadid(n: int, rng) -> tuple[dict[str, bytes], bytes]:
    members, rows = {}, []
    refs = set()
    for index in range(n):
        ref, rest = divmod(index, 25 * 5)
        kind, level = divmod(rest, 5)
        ref_name = f"I{ref + 1:02d}.png"
        name = f"I{ref + 1:02d}_{kind + 1:02d}_{level + 1:02d}.png"
        if ref_name not in refs:
            refs.add(ref_name)
            members[f"kadid10k/images/{ref_name}"] = _encode(_image(rng, IQA_SIZE), "PNG")
        members[f"kadid10k/images/{name}"] = _encode(_image(rng, IQA_SIZE), "PNG")
        rows.append([ref_name, name, round(float(rng.uniform(1, 5)), 2), 0.5])
    return members, _csv(["ref_name", "dist_name", "dmos", "std"], rows)


def _koniq(n: int, rng) -> tuple[dict[str, bytes], bytes]:
    members, rows = {}, []
    for index in range(n):
        name = f"{10004473376 + 7919 * index}.jpg"
        members[f"koniq10k/512x384/{name}"] = _encode(_image(rng, IQA_SIZE), "JPEG")
        split = "train" if index % 10 < 7 else ("val" if index % 10 < 8 else "test")
        rows.append([name, round(float(rng.uniform(3, 95)), 4), 10.0, split])
    return members, _csv(["img_name", "mos", "std", "official_split"], rows)


def _tid(n: int, rng) -> tuple[dict[str, bytes], bytes]:
    members, rows = {}, []
    refs = set()
    for index in range(n):
        ref, rest = divmod(index, 24 * 5)
        kind, level = divmod(rest, 5)
        # TID2013 names its 25th reference in lower case (pyiqa's process_tid.py maps it).
        ref_name = "i25.bmp" if ref == 24 else f"I{ref + 1:02d}.BMP"
        name = f"i{ref + 1:02d}_{kind + 1:02d}_{level + 1}.bmp"
        if ref_name not in refs:
            refs.add(ref_name)
            members[f"tid2013/reference_images/{ref_name}"] = _encode(_image(rng, IQA_SIZE), "BMP")
        members[f"tid2013/distorted_images/{name}"] = _encode(_image(rng, IQA_SIZE), "BMP")
        rows.append([ref_name, name, round(float(rng.uniform(0.2, 7.2)), 5), 0.1])
    return members, _csv(["ref_name", "dist_name", "mos", "std"], rows)


_BUILDERS = {"kadid10k": _kadid, "koniq10k": _koniq, "tid2013": _tid}


def write_pyiqa_archives(
    dest: str | os.PathLike,
    n_images: int | dict[str, int],
    seed: int = 0,
    datasets: tuple[str, ...] = ("kadid10k", "koniq10k", "tid2013"),
    with_labels: bool = True,
) -> dict[str, Path]:
    """KADID-10K / KonIQ-10K / TID2013 as pyiqa's mirror serves them, into the mirror ``dest``.

    ``n_images``: distorted images per set (an int for all, or ``{dataset: count}``).
    ``with_labels=False`` leaves out the meta-info files (the sabotage case: a mirror without the
    labels pyiqa reads). Returns ``{dataset: archive path}``.
    """
    dest = Path(dest)
    written = {}
    for offset, dataset in enumerate(datasets):
        count = n_images[dataset] if isinstance(n_images, dict) else int(n_images)
        rng = np.random.default_rng([seed, offset])
        members, meta = _BUILDERS[dataset](count, rng)
        ((_, archive),) = SOURCES[dataset]["hf"]
        path = mirror_path(dest, hf_url(HF_REPO, archive))
        _write_atomic(path, _tgz(members))
        if with_labels:
            _write_atomic(mirror_path(dest, hf_url(HF_META_REPO, META_FILES[dataset])), meta)
        written[dataset] = path
    return written


#: Savoias categories and images per category in the real set (1,420 in all).
SAVOIAS_COUNTS = {
    "Advertisement": 200,
    "Art": 420,
    "Interior Design": 100,
    "Objects": 200,
    "Scenes": 200,
    "Suprematism": 100,
    "Visualizations": 200,
}


def write_savoias_archive(
    dest: str | os.PathLike,
    per_category: int = 3,
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
) -> Path:
    """Savoias's GitHub branch archive with ``per_category`` images per category, into ``dest``."""
    import pandas as pd

    from d2s.data.savoias import CATEGORIES

    rng = np.random.default_rng([seed, 99])
    top = "Savoias-Dataset-master"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for category, key in CATEGORIES.items():
            count = min(per_category, SAVOIAS_COUNTS[category])
            for index in range(1, count + 1):
                data = _encode(_image(rng, size), "JPEG")
                zf.writestr(f"{top}/Images/{category}/{index}.jpg", data)
            sheet = io.BytesIO()
            scores = np.round(rng.uniform(0, 100, count), 3)
            pd.DataFrame({"gt": scores}).to_excel(sheet, index=False, engine="openpyxl")
            zf.writestr(f"{top}/Ground truth/xlsx/global_ranking_{key}.xlsx", sheet.getvalue())
    ((_, url),) = SOURCES["savoias"]["github"]
    path = mirror_path(dest, url)
    _write_atomic(path, buffer.getvalue())
    return path

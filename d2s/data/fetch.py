"""Downloading, unpacking and verifying the scriptable datasets (Savoias, KADID, KonIQ, TID2013).

Order of work, so that an interrupted run is never mistaken for a finished one:

1. download each archive to ``<downloads>/<file>``: plain HTTP(S) goes to ``<file>.part`` first and
   resumes with an HTTP ``Range`` request, then is renamed; Hugging Face files go through
   ``huggingface_hub.hf_hub_download``, which resumes its own ``.incomplete`` files and renames too;
2. unpack beside ``dest`` (size-capped, unsafe members refused) and move the layout's entries
   into a staging folder beside ``dest``;
3. verify the staging folder (expected image count, every listed image decodes, labels in range);
4. write the marker ``.d2s-verified.json`` and swap the folder in as ``dest``
   (:mod:`d2s.data.staging`: only an empty folder or a previous fetch of the same dataset is
   replaced). A folder without the marker is incomplete.

Sources (docs/design.md §3): pyiqa's Hugging Face dataset mirror ``chaofengc/IQA-PyTorch-Datasets``
(archive names as in pyiqa's ``pyiqa/data/dataset_api.py``), the official archives (KADID/KonIQ:
``datasets.vqa.mmsp-kn.de``; TID2013: ``ponomarenko.info``, a RAR that needs ``bsdtar``, ``unrar``
or ``7z`` on PATH), and Savoias from GitHub ``esaraee/Savoias-Dataset`` (branch archive or
``git clone``).
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from d2s.data.iqa import KONIQ_IMAGE_DIRS, KONIQ_SCORE_FILES, META_INFO
from d2s.data.records import DatasetError
from d2s.data.registry import get_spec
from d2s.data.staging import check_replaceable, fresh_staging, mark_placed, swap_in
from d2s.data.unpack import unpack
from d2s.data.validate import read_marker, verify_complete, write_marker

HF_REPO = "chaofengc/IQA-PyTorch-Datasets"
#: pyiqa reads the labels of its mirrored sets from this second repository, not from the archives
#: (pyiqa 0.1.16 ``pyiqa/data/dataset_api.py``, ``load_dataset``): one CSV per set.
HF_META_REPO = "chaofengc/IQA-PyTorch-Datasets-metainfo"
META_FILES = {dataset: info[0] for dataset, info in META_INFO.items()}
#: A local mirror to fetch from instead of the network: each file at ``<mirror>/<host>/<path>``
#: of its URL (:func:`mirror_path`); a file missing from the mirror is an error, never a download.
MIRROR_ENV = "D2S_MIRROR"
SAVOIAS_GIT = "https://github.com/esaraee/Savoias-Dataset.git"

#: dataset -> source -> list of ("url", URL) or ("hf", file in HF_REPO) or ("git", URL).
SOURCES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "savoias": {
        "github": [
            ("url", "https://github.com/esaraee/Savoias-Dataset/archive/refs/heads/master.zip")
        ],
        "git": [("git", SAVOIAS_GIT)],
    },
    "kadid10k": {
        "hf": [("hf", "kadid10k.tgz")],
        "official": [("url", "https://datasets.vqa.mmsp-kn.de/archives/kadid10k.zip")],
    },
    "koniq10k": {
        "hf": [("hf", "koniq10k.tgz")],
        "official": [
            ("url", "https://datasets.vqa.mmsp-kn.de/archives/koniq10k_512x384.zip"),
            (
                "url",
                "https://datasets.vqa.mmsp-kn.de/archives/koniq10k_scores_and_distributions.zip",
            ),
        ],
    },
    "tid2013": {
        "hf": [("hf", "tid2013.tgz")],
        "official": [("url", "https://www.ponomarenko.info/tid2013/tid2013.rar")],
    },
}
DEFAULT_SOURCE = {"savoias": "github", "kadid10k": "hf", "koniq10k": "hf", "tid2013": "hf"}

#: What a dataset folder must hold: for each entry, the names it may have (docs/design.md §3 layouts).
REQUIRED: dict[str, list[tuple[str, ...]]] = {
    "savoias": [("Images",), ("Ground truth",)],
    "kadid10k": [("dmos.csv",), ("images",)],
    "koniq10k": [KONIQ_SCORE_FILES, KONIQ_IMAGE_DIRS],
    "tid2013": [("mos_with_names.txt",), ("distorted_images",)],
}
#: From pyiqa's mirror only the images come from the archive; the labels are pyiqa's meta-info
#: file (:data:`META_FILES`), fetched first and placed beside them.
REQUIRED_HF: dict[str, list[tuple[str, ...]]] = {
    "kadid10k": [("images",)],
    "koniq10k": [KONIQ_IMAGE_DIRS],
    "tid2013": [("distorted_images",)],
}

CHUNK = 1 << 20


def hf_url(repo_id: str, filename: str) -> str:
    """The download URL of ``filename`` in the Hugging Face dataset repository ``repo_id``."""
    return f"https://huggingface.co/datasets/{repo_id}/resolve/main/{filename}"


def mirror_path(mirror: str | os.PathLike, url: str) -> Path:
    """Where a local mirror holds ``url``: ``<mirror>/<host>/<path>`` (as ``wget -x`` lays it out)."""
    parts = urllib.parse.urlsplit(url)
    return Path(mirror) / parts.netloc / parts.path.lstrip("/")


def http_download(url: str, dest: str | os.PathLike, progress: bool = True, timeout: float = 60):
    """Download ``url`` to ``dest``, resuming ``dest.part`` with a ``Range`` request.

    ``dest`` appears only once the transfer is complete (rename of the ``.part`` file). A server
    that ignores ``Range`` (answers 200) restarts the file from zero; a 416 answer means the part
    file already holds everything.
    """
    from tqdm import tqdm

    dest = Path(dest)
    if dest.is_file():
        return dest
    local = mirrored(url)
    if local is not None:
        return local
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "d2s-suite"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:
            os.replace(part, dest)
            return dest
        raise DatasetError(f"download of {url} failed: HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        raise DatasetError(f"download of {url} failed: {err.reason}") from err
    with response:
        resumed = response.status == 206
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        expected = have + int(length) if length is not None else None
        with (
            part.open("ab" if resumed else "wb") as out,
            tqdm(
                total=expected,
                initial=have,
                unit="B",
                unit_scale=True,
                desc=dest.name,
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as err:
                raise DatasetError(
                    f"download of {url} interrupted after {out.tell()} bytes ({err}); "
                    "run again to resume"
                ) from err
    size = part.stat().st_size
    if expected is not None and size != expected:
        raise DatasetError(
            f"download of {url} stopped at {size} of {expected} bytes; run again to resume"
        )
    os.replace(part, dest)
    return dest


def mirrored(url: str) -> Path | None:
    """``url``'s copy in the mirror named by ``$D2S_MIRROR``; ``None`` when no mirror is set."""
    mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        return None
    path = mirror_path(mirror, url)
    if not path.is_file():
        raise DatasetError(f"{path}: not in the mirror {MIRROR_ENV}={mirror} (the copy of {url})")
    return path


def hf_download(filename: str, downloads: Path, repo_id: str = HF_REPO) -> Path:
    """One file of a Hugging Face dataset repository (resumable, renamed when complete)."""
    local = mirrored(hf_url(repo_id, filename))
    if local is not None:
        return local
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(
            repo_id=repo_id, filename=filename, repo_type="dataset", local_dir=downloads
        )
    except Exception as err:  # offline, gated, missing file: all end the same way for the user
        raise DatasetError(
            f"cannot download {filename} from Hugging Face {repo_id} ({type(err).__name__}: {err}); "
            "check the network or try --source official"
        ) from err
    return Path(path)


def _shallowest(tree: Path, names: tuple[str, ...]) -> Path | None:
    found = [p for name in names for p in tree.rglob(name) if "__MACOSX" not in p.parts]
    return min(found, key=lambda p: (len(p.parts), str(p))) if found else None


def locate(required: list[tuple[str, ...]], tree: Path, what: str) -> list[Path]:
    """The shallowest path under ``tree`` for each required entry; raise naming a missing one."""
    found = []
    for names in required:
        path = tree if tree.name in names else _shallowest(tree, names)
        if path is None:
            raise DatasetError(f"{what} holds no {' or '.join(repr(n) for n in names)}")
        found.append(path)
    return found


def assemble(dataset: str, unpacked: Path, dest: Path, required=None) -> None:
    """Move the dataset's named entries from an unpacked tree into the new, empty folder ``dest``.

    Only the entries of the layout move; anything else in the archive stays behind and is deleted
    with the unpack folder.
    """
    found = locate(
        required or REQUIRED[dataset],
        unpacked,
        f"the unpacked archive(s) for {dataset} (try another --source, or place the files in "
        f"{dest} by hand)",
    )
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise DatasetError(f"{dest}: expected an empty staging folder")
    for path in found:
        os.replace(path, dest / path.name)


def fetch_labels(dataset: str, downloads: Path) -> Path:
    """pyiqa's meta-info label file of ``dataset`` (small: fetched before any archive).

    Refused naming the file when it cannot be had or does not hold the set's name and score
    columns, so a fetch from pyiqa's mirror never downloads gigabytes of images without labels.
    """
    from d2s.data.iqa import META_INFO
    from d2s.data.records import read_csv

    name, name_column, score_column, _, _ = META_INFO[dataset]
    path = hf_download(name, downloads / "meta_info", repo_id=HF_META_REPO)
    frame = read_csv(path, (name_column, score_column))
    if frame.empty:
        raise DatasetError(f"{path}: no labels (pyiqa's {name} is empty)")
    return path


def _clone(url: str, into: Path) -> None:
    local = None
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        local = mirror_path(mirror, url)
        if not local.is_dir():
            raise DatasetError(
                f"{local}: not in the mirror {MIRROR_ENV}={mirror} (a clone of {url})"
            )
    subprocess.run(["git", "clone", "--depth", "1", str(local or url), str(into)], check=True)


def fetch_dataset(
    dataset: str,
    dest: str | os.PathLike,
    source: str | None = None,
    downloads: str | os.PathLike | None = None,
    progress: bool = True,
    keep_archives: bool = True,
    strict_count: bool = True,
) -> dict:
    """Download, unpack, verify and mark ``dataset`` at ``dest``; return the verified record.

    A ``dest`` that already holds a marker for ``dataset`` is returned as is. From pyiqa's mirror
    (``source="hf"``) the labels are pyiqa's meta-info file, fetched and checked first
    (:func:`fetch_labels`). ``strict_count=False`` accepts fewer images than the official count
    (a subset, e.g. a trial copy); the marker records ``"subset": true``.
    """
    spec = get_spec(dataset)
    if spec.name not in SOURCES:
        raise DatasetError(
            f"{spec.title} cannot be downloaded by script. {spec.how_to_get}; "
            f"then run 'd2s data place {spec.name} --src PATH --dest DIR'"
        )
    dest = Path(dest)
    marker = read_marker(dest)
    if marker is not None and marker.get("dataset") == spec.name:
        return marker
    source = source or DEFAULT_SOURCE[spec.name]
    if source not in SOURCES[spec.name]:
        raise DatasetError(f"{spec.title} sources: {', '.join(SOURCES[spec.name])}, not {source!r}")
    check_replaceable(dest, spec.name)
    downloads = Path(downloads) if downloads else dest.parent / "downloads" / spec.name
    labels = fetch_labels(spec.name, downloads) if source == "hf" else None
    unpacked = dest.parent / f".{dest.name}.unpack"
    if unpacked.exists():
        shutil.rmtree(unpacked)
    unpacked.mkdir(parents=True)
    staging = fresh_staging(dest)
    archives: list[Path] = []
    kept: list[Path] = []
    try:
        for how, what in SOURCES[spec.name][source]:
            if how == "url":
                target = downloads / what.rsplit("/", 1)[-1]
                if target.is_file():  # already there (perhaps the user's own copy): never deleted
                    kept.append(target)
                archive = http_download(what, target, progress)
            elif how == "hf":
                archive = hf_download(what, downloads)
            else:
                _clone(what, unpacked / "repo")
                continue
            archives.append(archive)
            unpack(archive, unpacked, progress)
        assemble(spec.name, unpacked, staging, REQUIRED_HF[spec.name] if labels else None)
        if labels is not None:
            shutil.copyfile(labels, staging / labels.name)
        shutil.rmtree(unpacked, ignore_errors=True)
        try:
            summary = verify_complete(
                spec.name, staging, progress=progress, strict_count=strict_count
            )
        except DatasetError as err:
            raise DatasetError(f"{err} [checked in {staging}; {dest} was left as it was]") from err
        write_marker(spec.name, staging, summary, subset=not strict_count)
        mark_placed(staging, spec.name, source)
        swap_in(staging, dest, spec.name)
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
    if not keep_archives:  # only what this fetch downloaded, never a mirror's copy
        for archive in archives:
            if archive not in kept and downloads in archive.parents:
                archive.unlink(missing_ok=True)
    return read_marker(dest) or {}

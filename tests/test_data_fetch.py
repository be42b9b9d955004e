"""Acquisition: resumable HTTP download, unpack, verify, marker last; HF mirror; placing."""

from __future__ import annotations

import dataclasses
import io
import shutil
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from data_fixtures import truncate, write_ic9600, write_kadid, write_koniq, write_savoias

from d2s.cli import main
from d2s.data import DatasetError, registry
from d2s.data import fetch as fetch_module
from d2s.data.fetch import fetch_dataset, http_download
from d2s.data.place import place_dataset
from d2s.data.validate import MARKER, read_marker


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range`` unless ``server.honour_range`` is false;
    ``server.cut[path] = n`` drops the connection after n body bytes once (an interruption)."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        data = self.server.files.get(self.path)
        self.server.seen.append((self.path, self.headers.get("Range")))
        if data is None:
            self.send_error(404)
            return
        start = 0
        ranged = self.headers.get("Range") if self.server.honour_range else None
        if ranged:
            start = int(ranged.split("=", 1)[1].split("-", 1)[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = self.server.cut.pop(self.path, None)
        self.wfile.write(body if cut is None else body[:cut])
        self.wfile.flush()
        if cut is not None:
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def data_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files, server.seen, server.cut = {}, [], {}
    server.honour_range = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def _zip_tree(root: Path, prefix: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, f"{prefix}/{path.relative_to(root)}")
    return buffer.getvalue()


def _tgz_tree(root: Path, into: Path, prefix: str) -> Path:
    with tarfile.open(into, "w:gz") as tf:
        tf.add(root, arcname=prefix)
    return into


def _expect(monkeypatch, name: str, count: int) -> None:
    spec = dataclasses.replace(registry.DATASETS[name], expected=count)
    monkeypatch.setitem(registry.DATASETS, name, spec)


def test_interrupted_download_resumes_with_range(data_server, tmp_path):
    payload = bytes(range(256)) * 4000  # ~1 MB
    data_server.files["/big.bin"] = payload
    data_server.cut["/big.bin"] = 300_000
    dest = tmp_path / "dl" / "big.bin"
    with pytest.raises(DatasetError, match="run again to resume"):
        http_download(f"{data_server.url}/big.bin", dest, progress=False)
    part = dest.with_name("big.bin.part")
    assert not dest.exists() and part.stat().st_size == 300_000
    http_download(f"{data_server.url}/big.bin", dest, progress=False)
    assert dest.read_bytes() == payload and not part.exists()
    assert data_server.seen[-1] == ("/big.bin", "bytes=300000-")
    http_download(f"{data_server.url}/big.bin", dest, progress=False)  # complete: no request
    assert len(data_server.seen) == 2


def test_server_ignoring_range_restarts_and_404_is_clear(data_server, tmp_path):
    data_server.files["/a.bin"] = b"y" * 10
    data_server.honour_range = False
    dest = tmp_path / "a.bin"
    dest.with_name("a.bin.part").write_bytes(b"old")  # stale part from another server
    http_download(f"{data_server.url}/a.bin", dest, progress=False)
    assert data_server.seen[-1] == ("/a.bin", "bytes=3-")
    assert dest.read_bytes() == b"y" * 10  # answered 200: started again from byte 0
    with pytest.raises(DatasetError, match="HTTP 404"):
        http_download(f"{data_server.url}/missing.zip", tmp_path / "m.zip", progress=False)


def test_fetch_savoias_archive_verifies_then_marks(data_server, tmp_path, monkeypatch):
    tree = write_savoias(tmp_path / "src")
    data_server.files["/savoias.zip"] = _zip_tree(tree, "Savoias-Dataset-master")
    monkeypatch.setitem(
        fetch_module.SOURCES, "savoias", {"github": [("url", f"{data_server.url}/savoias.zip")]}
    )
    _expect(monkeypatch, "savoias", 15)
    dest = tmp_path / "resources" / "datasets" / "savoias"
    assert main(["data", "fetch", "savoias", "--dest", str(dest), "--no-progress"]) == 0
    marker = read_marker(dest)
    assert marker["dataset"] == "savoias" and marker["total"] == 15
    assert (dest / "Images" / "Art").is_dir() and (dest / "Ground truth" / "xlsx").is_dir()
    assert not list(dest.parent.glob(".savoias.unpack*"))
    requests = len(data_server.seen)
    assert fetch_dataset("savoias", dest, progress=False) == marker  # already complete
    assert len(data_server.seen) == requests


def test_broken_download_is_never_marked_complete(data_server, tmp_path, monkeypatch):
    tree = write_savoias(tmp_path / "src")
    truncate(next((tree / "Images" / "Scenes").glob("1.*")))
    data_server.files["/savoias.zip"] = _zip_tree(tree, "Savoias-Dataset-master")
    monkeypatch.setitem(
        fetch_module.SOURCES, "savoias", {"github": [("url", f"{data_server.url}/savoias.zip")]}
    )
    _expect(monkeypatch, "savoias", 15)
    dest = tmp_path / "savoias"
    with pytest.raises(DatasetError, match=r"Scenes/1\.\w+: cannot decode"):
        fetch_dataset("savoias", dest, progress=False)
    assert not dest.exists()  # verified in a staging folder, never swapped in
    _expect(monkeypatch, "savoias", 1420)
    tree2 = write_savoias(tmp_path / "src2")
    data_server.files["/savoias.zip"] = _zip_tree(tree2, "Savoias-Dataset-master")
    (tmp_path / "downloads" / "savoias" / "savoias.zip").unlink()
    with pytest.raises(DatasetError, match="should have 1420 images, found 15"):
        fetch_dataset("savoias", dest, progress=False)
    assert read_marker(dest) is None


def test_fetch_from_hf_mirror(tmp_path, monkeypatch):
    """pyiqa's mirror: labels from pyiqa's meta-info repository (fetched first), images from the
    archive; a label file inside the archive is not what the fetched set reads."""
    import pandas as pd

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    archives = tmp_path / "mirror"
    archives.mkdir()
    kadid = write_kadid(tmp_path / "k")
    dmos = pd.read_csv(kadid / "dmos.csv")
    pd.DataFrame(
        {"ref_name": dmos["ref_img"], "dist_name": dmos["dist_img"], "dmos": dmos["dmos"]}
    ).to_csv(archives / "meta_info_KADID10kDataset.csv", index=False)
    _tgz_tree(kadid, archives / "kadid10k.tgz", "kadid10k")
    koniq = write_koniq(tmp_path / "q")
    scores = pd.read_csv(koniq / "koniq10k_scores_and_distributions.csv")
    pd.DataFrame({"img_name": scores["image_name"], "mos": scores["MOS_zscore"]}).to_csv(
        archives / "meta_info_KonIQ10kDataset.csv", index=False
    )
    (koniq / "koniq10k_scores_and_distributions.csv").unlink()
    _tgz_tree(koniq, archives / "koniq10k.tgz", "koniq10k")
    calls = []

    def fake_hf_hub_download(repo_id, filename, repo_type, local_dir):
        calls.append((repo_id, filename, repo_type))
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(archives / filename, target)
        return str(target)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hf_hub_download)
    _expect(monkeypatch, "kadid10k", 4)
    _expect(monkeypatch, "koniq10k", 3)
    record = fetch_dataset("kadid10k", tmp_path / "data" / "kadid10k", progress=False)
    assert record["total"] == 4
    assert not (tmp_path / "data" / "kadid10k" / "dmos.csv").exists()
    record = fetch_dataset("koniq10k", tmp_path / "data" / "koniq10k", source="hf", progress=False)
    assert record["total"] == 3
    assert (tmp_path / "data" / "koniq10k" / "meta_info_KonIQ10kDataset.csv").is_file()
    assert calls == [
        ("chaofengc/IQA-PyTorch-Datasets-metainfo", "meta_info_KADID10kDataset.csv", "dataset"),
        ("chaofengc/IQA-PyTorch-Datasets", "kadid10k.tgz", "dataset"),
        ("chaofengc/IQA-PyTorch-Datasets-metainfo", "meta_info_KonIQ10kDataset.csv", "dataset"),
        ("chaofengc/IQA-PyTorch-Datasets", "koniq10k.tgz", "dataset"),
    ]


def test_real_hf_download_offline_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    # The labels (pyiqa's meta-info file) come first, so offline stops before any archive.
    with pytest.raises(
        DatasetError, match="cannot download meta_info_TID2013Dataset.csv from Hugging Face"
    ):
        fetch_dataset("tid2013", tmp_path / "tid2013", progress=False)
    assert read_marker(tmp_path / "tid2013") is None


def test_place_ic9600_from_archive_and_folder(tmp_path, capsys):
    src = write_ic9600(tmp_path / "user" / "IC9600")
    archive = tmp_path / "IC9600.zip"
    archive.write_bytes(_zip_tree(src, "IC9600"))
    dest = tmp_path / "resources" / "datasets" / "ic9600"
    with pytest.raises(DatasetError, match="should have 9600 images, found 8"):
        place_dataset("ic9600", archive, dest, progress=False)
    assert read_marker(dest) is None
    record = place_dataset("ic9600", archive, dest, progress=False, strict_count=False)
    assert record["counts"]["train"] == 6 and not (dest / "images").is_symlink()
    linked = tmp_path / "linked"
    argv = ["data", "place", "ic9600", "--src", str(src), "--dest", str(linked), "--any-count"]
    assert main([*argv, "--no-progress"]) == 0
    assert (linked / "images").is_symlink() and (linked / MARKER).is_file()
    assert not (src / MARKER).exists()  # the user's folder is not written to


def test_place_missing_dataset_says_where_to_get_it(tmp_path, capsys):
    code = main(["data", "place", "ic9600", "--dest", str(tmp_path / "ic9600")])
    err = capsys.readouterr().err
    assert code == 2
    assert "IC9600 is missing" in err and "tinglyfeng/IC9600" in err
    assert "datasets.ic9600.path" in err
    with pytest.raises(DatasetError, match="Nagle4k is missing.*labels.csv"):
        place_dataset("nagle4k", tmp_path / "nowhere", tmp_path / "n")
    with pytest.raises(DatasetError, match="cannot be downloaded by script"):
        fetch_dataset("visc-c", tmp_path / "v")

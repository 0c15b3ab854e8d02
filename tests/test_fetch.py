"""Fetch and verify external files (distill.data.download, distill.data.artifacts) against an HTTP server on
127.0.0.1 that the test starts: a good download, one cut off and resumed, a corrupted one, no network; unpacking an
archive into place; a file behind a login verified where the user put it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import stat
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from distill.data.artifacts import ARTIFACTS, Artifact, Need, needs
from distill.data.fetching import fetch
from distill.data.download import DownloadError, download, part_path

PAYLOAD = os.urandom(300_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Server:
    """Serves `files` (path -> bytes) with HTTP Range support; `mode` 'truncate' sends half the body and closes,
    'corrupt' flips a byte."""

    def __init__(self):
        self.files, self.mode, self.ranges = {}, "ok", []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if rng := self.headers.get("Range"):
                    server.ranges.append(rng)
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                chunk = body[start:]
                if server.mode == "corrupt":
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(chunk)))
                self.end_headers()
                self.wfile.write(chunk[:len(chunk) // 2] if server.mode == "truncate" else chunk)
                if server.mode == "truncate":
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    s.files["/file.bin"] = PAYLOAD
    yield s
    s.close()


def test_a_good_download_is_verified_and_put_in_place_readable_by_the_group(server, tmp_path):
    old = os.umask(0o002)
    try:
        dest = download(f"{server.url}/file.bin", tmp_path / "sub" / "file.bin", SHA)
    finally:
        os.umask(old)
    assert dest.read_bytes() == PAYLOAD and not part_path(dest).exists()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o664  # 0666 less the umask, not a temporary file's 0600
    assert download(f"{server.url}/file.bin", tmp_path / "p.bin", SHA[:8]).exists()  # a published prefix


def test_a_cut_off_download_keeps_its_bytes_and_resumes(server, tmp_path):
    dest = tmp_path / "file.bin"
    server.mode = "truncate"
    with pytest.raises(DownloadError, match="cut off .* run the same command again to resume"):
        download(f"{server.url}/file.bin", dest, SHA)
    assert not dest.exists() and 0 < part_path(dest).stat().st_size < len(PAYLOAD)
    server.mode = "ok"
    download(f"{server.url}/file.bin", dest, SHA)
    assert server.ranges == [f"bytes={len(PAYLOAD) // 2}-"]  # resumed where it stopped
    assert dest.read_bytes() == PAYLOAD and not part_path(dest).exists()


def test_a_link_where_the_part_goes_is_never_written_through(server, tmp_path):
    """A .part that is a symlink (planted, or left by a copy) is replaced by a fresh file: the file it points to is
    neither written nor resumed from."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    dest = tmp_path / "file.bin"
    part_path(dest).symlink_to(victim)
    download(f"{server.url}/file.bin", dest, SHA)
    assert victim.read_bytes() == b"keep me" and server.ranges == []  # not resumed from the link's bytes
    assert dest.read_bytes() == PAYLOAD and not dest.is_symlink() and not part_path(dest).exists()
    part_path(dest).mkdir()
    with pytest.raises(DownloadError, match=r"file\.bin\.part is not a file; move it away"):
        download(f"{server.url}/file.bin", dest, SHA)


def test_a_corrupted_download_is_refused_and_deleted(server, tmp_path):
    dest = tmp_path / "file.bin"
    server.mode = "corrupt"
    with pytest.raises(DownloadError, match=f"expected {SHA}.*deleted"):
        download(f"{server.url}/file.bin", dest, SHA)
    assert not dest.exists() and not part_path(dest).exists()


def test_no_network_is_a_clear_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dest = tmp_path / "file.bin"
    with pytest.raises(DownloadError, match=f"cannot download .*put it at {dest}"):
        download(f"http://127.0.0.1:{port}/file.bin", dest, SHA)
    assert not dest.exists()


def test_a_missing_file_names_the_address(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{server.url}/nothing.bin", tmp_path / "x.bin", SHA)


def _archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("cifar-10-batches-py/test_batch", b"batch"), ("cifar-10-batches-py/batches.meta", b"m")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_an_archive_is_fetched_verified_and_unpacked(server, tmp_path):
    archive = _archive()
    server.files["/c.tar.gz"] = archive
    art = Artifact("cifar10", "test archive", f"{server.url}/c.tar.gz", hashlib.sha256(archive).hexdigest(),
                   "c.tar.gz", unpacks_to="cifar-10-batches-py/test_batch")
    need = Need(art, tmp_path / "data", tmp_path / "data" / "cifar-10-batches-py" / "test_batch")
    assert "downloaded and verified" in fetch(need) and need.target.read_bytes() == b"batch"
    assert not [p for p in need.folder.iterdir() if p.name.startswith(".")]  # no temporary folder left
    assert "verified" in fetch(need) and "downloaded" not in fetch(need)  # in place: verified, not fetched again
    (need.folder / "c.tar.gz").write_bytes(b"tampered")
    with pytest.raises(DownloadError, match="not the file this suite knows"):
        fetch(need)


def test_data_placed_by_hand_is_not_downloaded_again(tmp_path):
    need = Need(ARTIFACTS["cifar10"], tmp_path, tmp_path / "cifar-10-batches-py" / "test_batch")
    need.target.parent.mkdir()
    need.target.write_bytes(b"batch")  # no archive beside it, and no network here: nothing is fetched
    assert "placed by hand" in fetch(need) and not (tmp_path / "cifar-10-python.tar.gz").exists()


def test_a_weights_file_goes_where_the_profile_reads_it(server, tmp_path):
    art = Artifact("inception", "weights", f"{server.url}/file.bin", SHA[:8], "published-name.pth")
    need = Need(art, tmp_path / "w", tmp_path / "w" / "my-name.pth")  # evaluation.feature_extractor_weights
    assert "downloaded and verified" in fetch(need) and need.target.read_bytes() == PAYLOAD
    assert not (need.folder / "published-name.pth").exists()


def test_a_file_behind_a_login_is_verified_where_the_user_put_it(tmp_path):
    a = ARTIFACTS["imagenet64"]
    need = Need(a, tmp_path, tmp_path / a.file)
    with pytest.raises(FileNotFoundError, match="image-net.org"):
        fetch(need)
    need.target.write_bytes(b"npz")
    assert "placed by hand" in fetch(need)


def test_the_paper_profile_needs_cifar10_inception_and_imagenet(tmp_path):
    from distill.config import load_profile

    from conftest import ROOT

    found = {n.artifact.name: n for n in needs(load_profile(ROOT / "params.yaml", "paper"))}
    assert {"cifar10", "inception", "imagenet64"} <= set(found)
    assert found["cifar10"].target == Path("data/cifar10/cifar-10-batches-py/test_batch")
    assert found["inception"].target == Path("data/inception/weights-inception-2015-12-05-6726825d.pth")
    assert needs(load_profile(ROOT / "params.yaml", "mini")) == []  # embedded data: nothing external


def test_the_paper_dry_run_plans_the_fetch_jobs(tmp_path):
    """`snakemake -n` of the paper profile on a fresh machine: the external files come from fetch rules (local
    rules), not a MissingInputException."""
    from conftest import make_project, run_snakemake

    proj = make_project(tmp_path)
    proc = run_snakemake(proj, "-n", "--config", "profile=paper", "--", "reports/table1.pdf")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jobs = proc.stdout
    assert "fetch_cifar10" in jobs and "fetch_inception" in jobs and "MissingInput" not in jobs + proc.stderr


def test_a_file_without_a_published_digest_is_recorded_at_its_first_fetch_and_verified_after(server, tmp_path):
    """The first fetch records the file's sha256 in the lock; a later fetch verifies it; a changed file is refused
    (a changed download is deleted), naming the file and both digests."""
    lock = tmp_path / "artifacts.lock.json"
    art = Artifact("edm_ffhq64_vp", "a network without a published digest", f"{server.url}/file.bin", None, "n.pkl")
    need = Need(art, tmp_path / "edm", tmp_path / "edm" / "n.pkl")
    first = fetch(need, lock=lock)
    assert "downloaded" in first and "recorded at first fetch" in first
    assert json.loads(lock.read_text())["edm_ffhq64_vp"]["files"] == {"n.pkl": SHA}
    assert "verified against" in fetch(need, lock=lock)
    need.target.write_bytes(b"another file")
    with pytest.raises(DownloadError, match=r"n\.pkl: recorded [0-9a-f]{12}\.\.\., found"):
        fetch(need, lock=lock)
    need.target.unlink()
    server.files["/file.bin"] = b"the source changed"
    with pytest.raises(DownloadError, match="differs from the files its first fetch recorded"):
        fetch(need, lock=lock)
    assert not need.target.exists()  # the changed download is not left where the profile reads it


def test_a_folder_artifact_is_recorded_file_by_file(tmp_path):
    """A folder (a Hugging Face model): every file recorded; a missing, an extra or a changed file is refused."""
    from distill.data.first_fetch import files_of, record_or_verify

    lock, folder = tmp_path / "lock.json", tmp_path / "model"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "w.safetensors").write_bytes(b"weights")
    (folder / "model_index.json").write_text("{}")
    assert "recorded at first fetch" in record_or_verify("sd15", files_of(folder), lock)
    assert "verified" in record_or_verify("sd15", files_of(folder), lock)
    (folder / "extra.txt").write_text("x")
    with pytest.raises(DownloadError, match="extra.txt: not recorded"):
        record_or_verify("sd15", files_of(folder), lock)
    (folder / "extra.txt").unlink()
    (folder / "unet" / "w.safetensors").unlink()
    with pytest.raises(DownloadError, match="unet/w.safetensors: recorded, missing"):
        record_or_verify("sd15", files_of(folder), lock)


def _record_many(lock, folder, names):
    from distill.data.first_fetch import files_of, record_or_verify

    for name in names:
        record_or_verify(name, files_of(folder), lock)


def test_two_imports_at_once_both_land_in_the_lock(tmp_path):
    """The workflow imports two teachers at the same time, and each records its first fetch in the one lock: neither
    loses the other's record, nor removes the other's half-written file."""
    import json
    import multiprocessing

    lock, folder = tmp_path / "artifacts.lock.json", tmp_path / "model"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"weights")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_record_many, args=(lock, folder, [f"{who}{i}" for i in range(15)]))
               for who in ("a", "b")]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert [w.exitcode for w in workers] == [0, 0]
    assert sorted(json.loads(lock.read_text())) == sorted(f"{who}{i}" for who in "ab" for i in range(15))


def test_a_zip_without_a_published_digest_is_recorded_then_unpacked(server, tmp_path):
    """MS-COCO's archives: the zip recorded at its first fetch and unpacked where the profile reads its member, no
    temporary folder left; a later fetch verifies the archive; a changed archive is refused."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("annotations/captions_train2014.json", '{"images": [], "annotations": []}')
        z.writestr("annotations/instances_train2014.json", "{}")
    server.files["/a.zip"] = buf.getvalue()
    lock = tmp_path / "artifacts.lock.json"
    art = Artifact("coco_train2014_captions", "captions", f"{server.url}/a.zip", None, "a.zip",
                   unpacks_to="annotations/captions_train2014.json")
    need = Need(art, tmp_path / "coco", tmp_path / "coco" / "annotations" / "captions_train2014.json")
    first = fetch(need, lock=lock)
    assert "recorded at first fetch" in first and "unpacked" in first and need.target.is_file()
    assert json.loads(lock.read_text())["coco_train2014_captions"]["files"] == {
        "a.zip": hashlib.sha256(buf.getvalue()).hexdigest()}
    assert not [p for p in need.folder.iterdir() if p.name.startswith(".")]
    assert "verified against" in fetch(need, lock=lock)
    (need.folder / "a.zip").write_bytes(b"tampered")
    with pytest.raises(DownloadError, match=r"a\.zip: recorded"):
        fetch(need, lock=lock)


def test_the_paper_profile_fetches_the_caption_set_where_the_workflow_reads_it():
    from distill.config import load_profile
    from distill.pipeline.text_to_image import files

    from conftest import ROOT

    cfg = load_profile(ROOT / "params.yaml", "paper")
    found = {n.artifact.name: n.target for n in needs(cfg)}
    f = files(cfg)
    assert found["coco_train2014_images"] == Path(f["images_file"])
    assert Path(f["images_file"]).parent == Path(f["images"])
    assert found["coco_train2014_captions"] == Path(f["annotations"])

"""Uploads on a shared server: a folder per session, the last few kept, old and ended swept."""

from __future__ import annotations

import io
import os
import threading
import time
import zipfile

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from dlviz.errors import UserError
from dlviz.ui import uploads


LATER = uploads.RECONNECT_GRACE_S + 1      # seconds: past the reconnect grace, within the TTL


@pytest.fixture
def base(tmp_path, monkeypatch):
    root = tmp_path / "dlviz-uploads"
    monkeypatch.setattr(uploads, "UPLOADS_BASE", str(root))
    monkeypatch.setattr(uploads, "_SEEN", {})
    monkeypatch.setenv("DLVIZ_UPLOAD_TTL_S", "3600")
    return root


def _age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


def _session(base, sid, files=("a.zip",), age=0.0):
    d = os.path.join(uploads.server_root(), uploads.folder_name(sid, "t0k3n"))
    os.makedirs(d, exist_ok=True)
    for f in files:
        p = os.path.join(d, f)
        with open(p, "wb") as fh:
            fh.write(b"zip")
        _age(p, age)
    _age(d, age)
    return d


# -- storing -------------------------------------------------------------------------

def test_store_dedupes_and_keeps_the_last_three(tmp_path):
    folder = str(tmp_path / "s")
    first = uploads.store_upload(b"one", folder, max_bytes=100)
    assert uploads.store_upload(b"one", folder, max_bytes=100) == first     # same content, one file
    paths = [first]
    for i, data in enumerate([b"two", b"three", b"four"]):
        _age(paths[-1], 10 * (4 - i))            # each older than the next
        paths.append(uploads.store_upload(data, folder, max_bytes=100))
    assert sorted(os.listdir(folder)) == sorted(os.path.basename(p) for p in paths[1:])
    assert not os.path.exists(first)
    # uploading an older one again makes it the newest: it stays, the oldest goes
    for p, a in zip(paths[1:], (30, 20, 10)):
        _age(p, a)
    again = uploads.store_upload(b"two", folder, max_bytes=100)
    assert again == paths[1] and os.path.exists(again)
    assert len(os.listdir(folder)) == 3


def test_store_bounds_bytes_and_refuses_oversized(tmp_path):
    folder = str(tmp_path / "s")
    with pytest.raises(UserError, match="limit"):
        uploads.store_upload(b"x" * 101, folder, max_bytes=100)
    a = uploads.store_upload(b"a" * 100, folder, keep=3, max_bytes=100)
    _age(a, 20)
    b = uploads.store_upload(b"b" * 100, folder, keep=3, max_bytes=100)
    _age(b, 10)
    c = uploads.store_upload(b"c" * 100, folder, keep=3, max_bytes=100)
    assert {a, b, c} == {os.path.join(folder, f) for f in os.listdir(folder)}
    assert sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) <= 300
    assert not [f for f in os.listdir(folder) if f.endswith(uploads.PARTIAL)]


def test_session_folder_names_round_trip():
    for sid in ("3f2b8c1e-5d7a-4e8b-9c0d-1a2b3c4d5e6f", "test session id", "x-abc", "../../etc",
                "a.b"):
        for token in ("", "0123abcd"):
            name = uploads.folder_name(sid, token)
            assert "/" not in name and name not in (".", "..")
            assert uploads.session_of(name) == sid
    assert uploads.session_of("not a session!") is None


# -- sweeping ------------------------------------------------------------------------

def test_sweep_removes_ended_and_old_keeps_fresh_of_active(base):
    live_fresh = _session(base, "live-1")
    live_mixed = _session(base, "live-2", files=("new.zip",))
    old_file = os.path.join(live_mixed, "old.zip")
    open(old_file, "wb").write(b"zip")
    _age(old_file, 7200)
    live_old = _session(base, "live-3", age=7200)        # active, but every upload past the TTL
    ended = _session(base, "gone-1")                     # fresh, but its session has ended
    legacy = base / "0123456789abcdef.zip"               # the old layout: one shared folder
    legacy.write_bytes(b"zip")
    _age(legacy, 7200)
    legacy_new = base / "fedcba9876543210.zip"
    legacy_new.write_bytes(b"zip")
    alive = {"live-1", "live-2", "live-3"}.__contains__
    removed = uploads.sweep_uploads(now=time.time() + LATER, is_alive=alive)
    assert os.listdir(live_fresh) == ["a.zip"]
    assert os.listdir(live_mixed) == ["new.zip"]
    assert not os.path.exists(live_old) and not os.path.exists(ended)
    assert not legacy.exists() and legacy_new.exists()
    # old.zip, live-3's a.zip and folder, gone-1's folder, the legacy zip
    assert removed == 5
    assert uploads.sweep_uploads(now=time.time() + LATER, is_alive=alive) == 0


def test_a_dropped_session_keeps_its_uploads_for_a_reconnect(base):
    d = _session(base, "s1", age=3000)          # uploaded 50 minutes ago
    t0 = time.time()
    assert uploads.sweep_uploads(now=t0, is_alive=lambda s: True) == 0
    # the connection drops: a sweep a minute later keeps the folder...
    assert uploads.sweep_uploads(now=t0 + 60, is_alive=lambda s: False) == 0
    assert os.path.exists(d)
    # ...and one after the grace removes it
    assert uploads.sweep_uploads(now=t0 + LATER, is_alive=lambda s: False) == 1
    assert not os.path.exists(d)


def test_sweep_without_a_runtime_goes_by_age_only(base):
    fresh = _session(base, "s-fresh")
    old = _session(base, "s-old", age=7200)
    assert uploads.sweep_uploads() >= 2          # no Streamlit server in this process
    assert os.path.exists(fresh) and not os.path.exists(old)


def test_sweep_uses_now_and_the_ttl_setting(base, monkeypatch):
    d = _session(base, "s1")
    assert uploads.sweep_uploads(is_alive=lambda s: True) == 0
    assert uploads.sweep_uploads(now=time.time() + 3700, is_alive=lambda s: True) == 2
    assert not os.path.exists(d)
    d = _session(base, "s2", age=600)
    monkeypatch.setenv("DLVIZ_UPLOAD_TTL_S", "60")
    assert uploads.sweep_uploads(is_alive=lambda s: True) == 2 and not os.path.exists(d)


def test_sweep_leaves_another_servers_fresh_uploads(base):
    other = base / "server-9999" / "someone"
    other.mkdir(parents=True)
    (other / "a.zip").write_bytes(b"zip")
    uploads.sweep_uploads(is_alive=lambda s: False)
    assert (other / "a.zip").exists()


def test_sweep_never_raises(base, monkeypatch):
    assert uploads.sweep_uploads(is_alive=lambda s: True) == 0        # no folder yet
    d = _session(base, "s1")

    def broken(sid):
        raise RuntimeError("runtime gone")
    assert uploads.sweep_uploads(is_alive=broken) == 0                 # unknown: kept
    assert os.path.exists(d)
    monkeypatch.setattr(uploads, "_sweep", lambda *a: 1 / 0)
    assert uploads.sweep_uploads() == 0


def test_sweep_from_many_threads_at_once(base):
    for i in range(20):
        _session(base, f"gone-{i}", files=("a.zip", "b.zip"))
    results, errors = [], []

    def sweep():
        try:
            results.append(uploads.sweep_uploads(now=time.time() + LATER, is_alive=lambda s: False))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=sweep) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors and sum(results) == 20
    assert os.listdir(uploads.server_root()) == []


# -- the Build page ------------------------------------------------------------------

def _zip(classes=("cats", "dogs"), shade=0) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c, colour in zip(classes, ((255, shade, 0), (0, shade, 255))):
            for i in range(6):
                img = io.BytesIO()
                Image.new("RGB", (20, 20), colour).save(img, "PNG")
                zf.writestr(f"{c}/{i}.png", img.getvalue())
    return buf.getvalue()


def _build_page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    at.switch_page("app_pages/build.py").run()
    at.selectbox(key="build_dataset").set_value("your images (zip)").run()
    return at


def _upload(at, data, name="pets.zip") -> AppTest:
    at.file_uploader(key="build_zip").set_value((name, data, "application/zip")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_upload_goes_to_this_sessions_folder_and_the_last_three_stay(base):
    at = _upload(_build_page(), _zip())
    assert not at.error and at.get("image")
    assert "cats" in " ".join(c.value for c in at.caption)
    session = os.path.join(uploads.server_root(), at.session_state[uploads.SESSION_KEY])
    assert len(os.listdir(session)) == 1
    for shade in (60, 120, 180):
        _upload(at, _zip(shade=shade), name=f"pets{shade}.zip")
        time.sleep(0.01)                      # distinct modification times
    assert len(os.listdir(session)) == uploads.KEEP_PER_SESSION
    # another session cannot open this one's upload through a link
    other = AppTest.from_file("../app.py", default_timeout=60)
    other.query_params["net"] = at.query_params["net"]
    other.run()
    assert any("built-in datasets" in w.value for w in other.warning)     # the link's message
    other.switch_page("app_pages/build.py").run()
    assert other.session_state[uploads.SESSION_KEY] != at.session_state[uploads.SESSION_KEY]
    assert not other.get("image")


def test_an_upload_keeps_its_own_name_after_its_hash_and_messages_use_it(tmp_path):
    from types import SimpleNamespace

    from dlviz.data.csv_file import shown_name
    from dlviz.ui.uploads import kept_name, store_upload
    csv = (".csv", ".tsv", ".txt")
    assert kept_name(SimpleNamespace(name="my patients (2024).csv"), csv, ".table.csv") == \
        ".my_patients__2024_.csv"
    assert kept_name(SimpleNamespace(name="../../etc/passwd"), csv, ".table.csv") == ".table.csv"
    assert kept_name(SimpleNamespace(name="x" * 500 + ".csv"), csv, ".table.csv") == "." + "x" * 56 + ".csv"
    path = store_upload(b"a,b\n1,2\n", str(tmp_path), suffix=".patients.csv")
    assert shown_name(path) == "patients.csv"
    assert shown_name(store_upload(b"a,b\n1,3\n", str(tmp_path), suffix=".table.csv")) == "table.csv"
    assert shown_name("/data/0123456789abcdef.csv") == "0123456789abcdef.csv"   # not an upload's

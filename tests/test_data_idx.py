"""IDX (MNIST-format) loader: round trips, names, and every malformed file we refuse."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest
import torch

from dlviz.data import idx
from dlviz.data.params import DatasetParams
from dlviz.errors import UserError

H, W = 5, 4


def _make(folder, n_train=30, n_test=10, suffix="", dot=False, test=True, seed=0):
    """Write a tiny MNIST-like set; returns the arrays written."""
    rng = np.random.default_rng(seed)
    xs = {"train": rng.integers(0, 256, (n_train, H, W), dtype=np.uint8),
          "t10k": rng.integers(0, 256, (n_test, H, W), dtype=np.uint8)}
    ys = {"train": (np.arange(n_train) % 10).astype(np.uint8),
          "t10k": (np.arange(n_test) % 10).astype(np.uint8)}
    for prefix in ("train", "t10k") if test else ("train",):
        sep = "." if dot else "-"
        idx.write_idx(os.path.join(folder, f"{prefix}-images{sep}idx3-ubyte{suffix}"), xs[prefix])
        idx.write_idx(os.path.join(folder, f"{prefix}-labels{sep}idx1-ubyte{suffix}"), ys[prefix])
    return xs, ys


def _denorm(x: torch.Tensor, ds) -> np.ndarray:
    """Back from normalised float to the 0..255 bytes that were written."""
    return (x[:, 0].numpy() * ds.norm_std[0] + ds.norm_mean[0]) * 255.0


@pytest.mark.parametrize("suffix,dot", [("", False), (".gz", False), ("", True), (".gz", True)])
def test_round_trip_preserves_pixels_and_labels(tmp_path, suffix, dot):
    xs, ys = _make(tmp_path, suffix=suffix, dot=dot)
    ds = idx.load(str(tmp_path), DatasetParams())
    assert ds.key == f"idx:{tmp_path}"
    assert ds.task == "classification"
    assert ds.input_shape == (1, H, W)
    assert ds.classes == tuple(str(d) for d in range(10))
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    # no subset asked for: file order and exact values survive
    np.testing.assert_allclose(_denorm(ds.x_train, ds), xs["train"], atol=1e-3)
    np.testing.assert_allclose(_denorm(ds.x_test, ds), xs["t10k"], atol=1e-3)
    assert ds.y_train.tolist() == ys["train"].tolist()
    assert ds.y_test.tolist() == ys["t10k"].tolist()
    # normalised with the training statistics
    assert abs(ds.x_train.mean().item()) < 1e-4
    assert abs(ds.x_train.std().item() - 1.0) < 1e-3
    assert ds.norm_mean[0] == pytest.approx(xs["train"].mean() / 255.0, rel=1e-5)


def test_gz_files_really_are_gzip(tmp_path):
    p = str(tmp_path / "a-idx1-ubyte.gz")
    idx.write_idx(p, np.arange(7, dtype=np.uint8))
    with open(p, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    assert idx.read_idx(p).tolist() == list(range(7))


def test_write_read_round_trip_keeps_shape(tmp_path):
    a = np.random.default_rng(1).integers(0, 256, (3, 2, 5), dtype=np.uint8)
    p = str(tmp_path / "x")
    idx.write_idx(p, a)
    b = idx.read_idx(p)
    assert b.shape == (3, 2, 5) and (b == a).all()
    with open(p, "rb") as f:
        assert f.read(4) == bytes([0, 0, 8, 3])
        assert struct.unpack(">3I", f.read(12)) == (3, 2, 5)


def test_path_may_name_a_file_in_the_folder(tmp_path):
    _make(tmp_path)
    ds = idx.load(str(tmp_path / "train-images-idx3-ubyte"), DatasetParams())
    assert len(ds.x_train) == 30


def test_missing_training_file_lists_what_was_expected(tmp_path):
    _make(tmp_path)
    os.remove(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(UserError, match="train-images-idx3-ubyte") as e:
        idx.load(str(tmp_path), DatasetParams())
    assert "train-labels" not in str(e.value)   # only what is missing


def test_empty_folder_names_both_training_files(tmp_path):
    with pytest.raises(UserError) as e:
        idx.load(str(tmp_path), DatasetParams())
    assert "train-images-idx3-ubyte" in str(e.value) and "train-labels-idx1-ubyte" in str(e.value)


def test_half_a_test_split_is_an_error(tmp_path):
    _make(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(UserError, match="t10k-labels-idx1-ubyte"):
        idx.load(str(tmp_path), DatasetParams())


def test_bad_magic(tmp_path):
    _make(tmp_path)
    p = tmp_path / "train-images-idx3-ubyte"
    data = bytearray(p.read_bytes())
    data[0:4] = b"\x89PNG"
    p.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"train-images-idx3-ubyte: bad magic"):
        idx.load(str(tmp_path), DatasetParams())


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_truncated_file(tmp_path, suffix):
    _make(tmp_path, suffix=suffix)
    p = tmp_path / f"train-images-idx3-ubyte{suffix}"
    if suffix:
        # cut the gzip stream itself, as an interrupted download would
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    else:
        p.write_bytes(p.read_bytes()[:-7])
    with pytest.raises(UserError, match=r"train-images-idx3-ubyte(\.gz)?: truncated"):
        idx.load(str(tmp_path), DatasetParams())


def test_truncated_inside_header(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(bytes([0, 0, 8, 3]) + b"\x00\x00")
    with pytest.raises(UserError, match="truncated"):
        idx.read_idx(str(p))


def test_file_longer_than_header_says(tmp_path):
    p = tmp_path / "x"
    idx.write_idx(str(p), np.zeros(4, np.uint8))
    p.write_bytes(p.read_bytes() + b"\x00")
    with pytest.raises(UserError, match="longer than its header"):
        idx.read_idx(str(p))


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_huge_header_refused_before_allocating(tmp_path, suffix):
    # 1e15 claimed bytes: reading (or allocating) them would never finish; the
    # message shows it was the claim that was refused, not a short read
    p = str(tmp_path / f"train-images-idx3-ubyte{suffix}")
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 100_000, 100_000, 100_000)
    with (gzip.open(p, "wb") if suffix else open(p, "wb")) as f:
        f.write(header + b"\x00" * 16)
    with pytest.raises(UserError, match="header claims 100000x100000x100000 values .* the limit is"):
        idx.read_idx(p)


def test_mismatched_counts(tmp_path):
    _make(tmp_path)
    idx.write_idx(str(tmp_path / "train-labels-idx1-ubyte"), np.zeros(29, np.uint8))
    with pytest.raises(UserError, match="29 labels but train-images-idx3-ubyte has 30 images"):
        idx.load(str(tmp_path), DatasetParams())


def test_images_must_be_unsigned_bytes(tmp_path):
    _make(tmp_path)
    p = tmp_path / "train-images-idx3-ubyte"
    body = np.zeros((30, H, W), ">f4").tobytes()
    p.write_bytes(bytes([0, 0, 0x0D, 3]) + struct.pack(">3I", 30, H, W) + body)
    with pytest.raises(UserError, match="unsigned bytes.*float"):
        idx.load(str(tmp_path), DatasetParams())


def test_images_need_three_dimensions(tmp_path):
    _make(tmp_path)
    idx.write_idx(str(tmp_path / "train-images-idx3-ubyte"), np.zeros((30, 20), np.uint8))
    with pytest.raises(UserError, match="expected 3 dimensions"):
        idx.load(str(tmp_path), DatasetParams())


def test_test_label_out_of_range(tmp_path):
    _make(tmp_path)
    idx.write_idx(str(tmp_path / "t10k-labels-idx1-ubyte"), np.array([12] + [0] * 9, np.uint8))
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte: label 12 is out of range.*0\.\.9"):
        idx.load(str(tmp_path), DatasetParams())


def test_non_digit_labels_become_sorted_classes(tmp_path):
    x = np.zeros((12, H, W), np.uint8)
    y = np.array([8, 3] * 6, np.uint8)
    idx.write_idx(str(tmp_path / "train-images-idx3-ubyte"), x)
    idx.write_idx(str(tmp_path / "train-labels-idx1-ubyte"), y)
    ds = idx.load(str(tmp_path), DatasetParams(test_fraction=0.5))
    assert ds.classes == ("3", "8")
    # label 3 -> index 0, label 8 -> index 1; both in both halves (stratified)
    assert sorted(set(ds.y_train.tolist())) == [0, 1]
    assert sorted(set(ds.y_test.tolist())) == [0, 1]


def test_only_train_files_split_by_test_fraction_and_seed(tmp_path):
    _make(tmp_path, n_train=100, test=False)
    a = idx.load(str(tmp_path), DatasetParams(test_fraction=0.2, seed=1))
    b = idx.load(str(tmp_path), DatasetParams(test_fraction=0.2, seed=1))
    c = idx.load(str(tmp_path), DatasetParams(test_fraction=0.2, seed=2))
    assert (len(a.x_train), len(a.x_test)) == (80, 20)
    assert sorted(a.y_test.tolist()) == sorted(list(range(10)) * 2)   # stratified: 2 per digit
    assert torch.equal(a.x_test, b.x_test)
    assert not torch.equal(a.x_test, c.x_test)


def test_t10k_files_are_the_test_split_whatever_the_fraction(tmp_path):
    _make(tmp_path)
    ds = idx.load(str(tmp_path), DatasetParams(test_fraction=0.5))
    assert (len(ds.x_train), len(ds.x_test)) == (30, 10)


def test_n_samples_caps_train_and_test_together(tmp_path):
    xs, _ = _make(tmp_path, n_train=200, n_test=50)
    ds = idx.load(str(tmp_path), DatasetParams(n_samples=40, test_fraction=0.25, seed=3))
    assert (len(ds.x_train), len(ds.x_test)) == (30, 10)
    # the subset is made of real rows of the files
    rows = {r.tobytes() for r in xs["train"]}
    got = np.round(_denorm(ds.x_train, ds)).astype(np.uint8)
    assert all(r.tobytes() in rows for r in got)
    again = idx.load(str(tmp_path), DatasetParams(n_samples=40, test_fraction=0.25, seed=3))
    assert torch.equal(ds.x_train, again.x_train)


def test_corrupt_gzip(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(b"this is not gzip at all")
    with pytest.raises(UserError, match="x.gz: not a valid gzip"):
        idx.read_idx(str(p))


def test_write_idx_rejects_other_dtypes(tmp_path):
    with pytest.raises(TypeError):
        idx.write_idx(str(tmp_path / "x"), np.zeros(3, np.int32))


def test_registry_reaches_the_loader(tmp_path):
    from dlviz.data.registry import load_dataset
    _make(tmp_path)
    ds = load_dataset(f"idx:{tmp_path}")
    assert ds.input_shape == (1, H, W) and len(ds.x_test) == 10

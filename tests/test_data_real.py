"""Real data offline: scikit-learn's bundled digits and tables, and the presets that fit them."""

from __future__ import annotations

import json

import pytest
import torch

from dlviz.data import DATASETS, DatasetParams, load_dataset
from dlviz.presets import PRESETS, preset_spec
from dlviz.train.config import TrainConfig
from dlviz.train.trainer import Trainer


def train(dataset: str, **overrides):
    ds = load_dataset(dataset)
    preset = DATASETS[dataset].default_preset
    spec = preset_spec(preset, ds.input_shape, ds.output_size, ds.task)
    t = Trainer(spec, ds, TrainConfig.from_dict({**PRESETS[preset].train, **overrides}))
    t.start()
    assert t.join(120)
    s = t.state()
    assert s.status == "finished", s.message
    return s.final


def test_real_digits_are_the_1797_uci_digits():
    ds = load_dataset("real-digits")
    assert ds.input_shape == (1, 8, 8) and ds.classes == tuple("0123456789")
    assert len(ds.x_train) + len(ds.x_test) == 1797
    assert len(ds.x_test) == pytest.approx(0.2 * 1797, abs=10)
    # normalised with the training statistics: about mean 0, std 1
    assert abs(float(ds.x_train.mean())) < 1e-4 and abs(float(ds.x_train.std()) - 1) < 1e-3
    counts = torch.bincount(torch.cat([ds.y_train, ds.y_test]), minlength=10)
    assert counts.min() >= 174 and counts.max() <= 183                 # UCI's per-digit counts


def test_tables_have_their_real_columns_and_classes():
    bc = load_dataset("breast-cancer")
    assert bc.input_shape == (30,) and bc.classes == ("malignant", "benign")
    assert bc.feature_names[:3] == ("mean radius", "mean texture", "mean perimeter")
    assert len(bc.x_train) + len(bc.x_test) == 569
    assert int(torch.cat([bc.y_train, bc.y_test]).sum()) == 357        # benign cases
    wine = load_dataset("wine")
    assert wine.input_shape == (13,) and wine.classes == ("class_0", "class_1", "class_2")
    assert "proline" in wine.feature_names
    iris = load_dataset("iris")
    assert iris.classes == ("setosa", "versicolor", "virginica")
    diabetes = load_dataset("diabetes")
    assert diabetes.task == "regression" and diabetes.y_train.shape[1:] == (1,)


def test_a_sample_count_takes_a_seeded_subset():
    a = load_dataset("breast-cancer", DatasetParams(n_samples=100, seed=4))
    b = load_dataset("real-digits", DatasetParams(n_samples=300, seed=4))
    assert len(a.x_train) + len(a.x_test) == 100 and len(b.x_train) + len(b.x_test) == 300
    big = load_dataset("wine", DatasetParams(n_samples=5000))           # more than it has: all
    assert len(big.x_train) + len(big.x_test) == 178


def test_real_digits_preset_reaches_95_percent():
    assert DATASETS["real-digits"].default_preset == "digits8-cnn"
    assert train("real-digits")["test_accuracy"] >= 0.95


def test_breast_cancer_preset_reaches_93_percent():
    assert DATASETS["breast-cancer"].default_preset == "tabular-mlp"
    assert train("breast-cancer")["test_accuracy"] >= 0.93


def test_wine_preset_learns():
    assert train("wine")["test_accuracy"] >= 0.9


def test_cli_picks_the_fitting_network_for_a_real_dataset(capsys):
    from dlviz.cli import main
    assert main(["train", "--dataset", "real-digits", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["preset"] == "digits8-cnn" and result["dataset"] == "real-digits"
    assert result["test_accuracy"] >= 0.95

"""Offline datasets: 2-D toys, synthetic digits and shapes, real sets shipped with
scikit-learn, image folders, IDX files and CSV tables."""

from dlviz.data.dataset import Dataset
from dlviz.data.params import DatasetParams
from dlviz.data.registry import DATASETS, PATH_LOADERS, dataset_keys, load_dataset

__all__ = ["Dataset", "DatasetParams", "DATASETS", "PATH_LOADERS", "dataset_keys", "load_dataset"]

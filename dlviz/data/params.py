"""The knobs every dataset builder takes; part of the cache key."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dlviz.errors import UserError


@dataclass(frozen=True)
class DatasetParams:
    """Parameters shared by all dataset builders.

    ``None`` means "the dataset's own default" (each builder documents it).
    Frozen and hashable, so a (key, params) pair is a cache key. Values from a
    link or the CLI are typed and bounded by ``registry.check_params`` (per
    dataset: a 2-D set takes fewer samples than an image set) before any build.
    """

    n_samples: int | None = None          # train + test together
    noise: float | None = None            # 2-D sets: noise level in [0, 1]; images: pixel noise
    test_fraction: float = 0.2
    seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")   # 2-D sets only (see features.py)
    image_size: int | None = None         # folder datasets: side length after resizing
    target_column: str | None = None      # csv: datasets: the column to predict (None: the last)

    def to_dict(self) -> dict:
        """The settings that differ from the defaults, JSON-ready (a link, a bundle)."""
        default = DatasetParams()
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()
                if v != getattr(default, k)}

    @staticmethod
    def from_dict(d, what: str = "the shared link") -> "DatasetParams":
        """``to_dict``'s output back; the names are checked here, the values' types and
        bounds by ``registry.check_params`` (which knows the dataset)."""
        if not isinstance(d, dict):
            raise UserError(f"{what}'s dataset settings are damaged")
        known = set(DatasetParams.__dataclass_fields__)
        if set(d) - known:
            raise UserError(f"{what} has an unknown dataset setting {sorted(set(d) - known)[0]!r}")
        if isinstance(d.get("features"), list):
            d = {**d, "features": tuple(d["features"])}   # hashable: a cache key
        return DatasetParams(**d)

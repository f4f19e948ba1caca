"""Shape arithmetic shared by the layer kinds: no tensors, only tuples.

Shapes exclude the batch: (F,) for vectors, (C, H, W) for images. A kind that
cannot take an input raises ``ShapeError`` with a sentence a student can act
on; ``dlviz.spec_analysis`` prefixes it with the layer's name.
"""

from __future__ import annotations

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """The layer cannot take this input; the message says why, without the layer name."""


def fmt_shape(shape: Shape) -> str:
    if len(shape) == 1:
        return f"{shape[0]} features"
    return f"{shape[0]}x{shape[1]}x{shape[2]}"


def need_image(shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(f"needs an image input (channels x height x width), "
                         f"got {fmt_shape(shape)}")
    return shape  # type: ignore[return-value]


def need_flat(shape: Shape) -> int:
    if len(shape) != 1:
        raise ShapeError(f"needs a flat input, got {fmt_shape(shape)}; "
                         f"add a flatten layer before it")
    return shape[0]


def window_out(size: int, kernel: int, stride: int, padding: int, what: str) -> int:
    """Output length of a sliding window (conv, pool) along one side."""
    if kernel > size + 2 * padding:
        pad = f" (padding {padding})" if padding else ""
        raise ShapeError(f"{what} {kernel} does not fit a {size}x{size} input{pad}")
    return (size + 2 * padding - kernel) // stride + 1


def positive(args: dict, *names: str) -> None:
    for n in names:
        v = args[n]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ShapeError(f"{n} must be a whole number of at least 1, got {v!r}")

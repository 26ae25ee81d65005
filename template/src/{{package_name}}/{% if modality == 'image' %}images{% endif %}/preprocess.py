"""The one way an image becomes the network's input, shared by training and serving.

decode (Pillow) -> mode (L or RGB) -> resize (bilinear, to size x size) -> float32 array (C, H, W)
with values 0..255. Scaling and normalisation are not here: they are the first layer of the network
and so part of the exported ONNX graph, which is what serving runs. OpenCV decodes to BGR and its
resize kernels differ from Pillow's, so mixing the two would shift every pixel: this module is the
only place that decodes or resizes, and tests/images/test_preprocess.py holds training and serving to
the same tensor for the same file.

It imports Pillow and NumPy only, never torch: the serving runtime uses it as it is.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow's own bomb check warns above 89 million pixels and raises only at twice that; the
# decoders below check the declared size against the project's limit before decoding anything.
Image.MAX_IMAGE_PIXELS = None


class ImageError(ValueError):
    """The bytes are not an image this project can use; the message says why."""


class NotAnImageError(ImageError):
    """The bytes are not in an image format Pillow knows, or they are truncated or corrupt."""


class CorruptImageError(ImageError):
    """The bytes start like an image but do not decode: truncated or damaged."""


class ImageTooLargeError(ImageError):
    """The image declares more pixels than allowed (a decompression bomb, or just too large)."""


@dataclass(frozen=True)
class Shape:
    """What every image becomes: size x size pixels, 1 (L) or 3 (RGB) channels."""

    size: int
    channels: int

    @property
    def mode(self) -> str:
        return "L" if self.channels == 1 else "RGB"


def decode(data: bytes, max_pixels: int) -> Image.Image:
    """Decode image bytes fully; raise NotAnImageError, CorruptImageError or ImageTooLargeError.

    The size in the header is checked before any pixel is decoded, so a small file that unpacks to
    gigabytes (a decompression bomb) costs nothing.
    """
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        raise NotAnImageError(
            "not an image in a format Pillow reads (PNG, JPEG, GIF, BMP, TIFF, WebP)"
        ) from exc
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"the image declares {width}x{height} = {width * height} pixels, more than the "
            f"{max_pixels} allowed; send a smaller image"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise CorruptImageError(f"the image is truncated or corrupt ({exc})") from exc
    # A camera's JPEG often stores its pixels sideways and says so in EXIF: turn them upright, in
    # training and serving alike.
    return ImageOps.exif_transpose(image)


def to_array(image: Image.Image, shape: Shape) -> np.ndarray:
    """The image as float32 (channels, size, size), values 0..255: what the network takes."""
    converted = image.convert(shape.mode)
    if converted.size != (shape.size, shape.size):
        converted = converted.resize((shape.size, shape.size), Image.Resampling.BILINEAR)
    pixels = np.asarray(converted, dtype=np.float32)
    if pixels.ndim == 2:  # L: one plane
        return pixels[np.newaxis, :, :]
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))  # RGB: (H, W, C) to (C, H, W)


def preprocess(data: bytes, shape: Shape, max_pixels: int) -> np.ndarray:
    """Image bytes to the network's input (channels, size, size): decode, then `to_array`."""
    return to_array(decode(data, max_pixels), shape)

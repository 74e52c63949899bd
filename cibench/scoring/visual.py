"""Image similarity (SSIM) for ``vis`` steps; PNG bytes in, score in [0, 1] out.

* :func:`ssim_default` (DEFAULT): both images are composited onto a white
  background and converted to RGB, the found image is resized (PIL, bicubic)
  to the expected image's size, then SSIM over the three channels with
  ``data_range=255``.  RGBA-vs-RGB, palette or greyscale PNGs compare fine.
* :func:`ssim_cibench` (CIBENCH): OpenCompass' ``vis_similarity_step``:
  read both with imageio (what ``skimage.io.imread`` uses), ``skimage``
  ``resize`` of the found image to the reference's height/width, ``* 255``
  truncated to uint8, ``structural_similarity(channel_axis=-1)``; any
  exception (channel mismatch such as RGBA vs RGB, images under 7 px) is 0.

Neither function raises: unreadable input scores 0.0 and the reason is logged
at INFO level.  SSIM can be slightly negative in theory; the default clamps to
[0, 1], the cibench profile returns the raw value as OpenCompass does.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["ssim_default", "ssim_cibench"]


def _to_rgb_on_white(png: bytes) -> Any:  # a PIL Image (PIL is imported lazily)
    """Decode ``png`` and flatten any transparency onto white, as RGB."""
    from PIL import Image

    img = Image.open(io.BytesIO(png))
    img.load()
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _clamp(value: float) -> float:
    if not np.isfinite(value):
        return 0.0
    return float(min(1.0, max(0.0, value)))


def ssim_default(expected_png: bytes, found_png: bytes) -> float:
    """DEFAULT vis profile: SSIM of the two images flattened onto white, RGB.

    The found image is resized to the expected image's size (PIL bicubic).
    Departs from CIBench: alpha and palette/grey modes are normalized instead
    of failing with a channel mismatch, and resizing uses PIL instead of
    ``skimage.transform.resize``.  Returns 0.0 (never raises) when either
    image cannot be decoded or is smaller than SSIM's 7x7 window.
    """
    from skimage.metrics import structural_similarity

    try:
        from PIL import Image

        exp = _to_rgb_on_white(expected_png)
        got = _to_rgb_on_white(found_png)
        if got.size != exp.size:
            got = got.resize(exp.size, Image.Resampling.BICUBIC)
        a = np.asarray(exp, dtype=np.uint8)
        b = np.asarray(got, dtype=np.uint8)
        if min(a.shape[:2]) < 7:
            logger.info("ssim_default: image smaller than 7x7 (%s)", a.shape)
            return 0.0
        if a.shape == b.shape and np.array_equal(a, b):
            return 1.0  # what SSIM gives identical images, exactly; without its 0.1 s of filters
        value = structural_similarity(a, b, channel_axis=-1, data_range=255)
    except Exception as exc:  # bad bytes, truncated PNG, ...
        logger.info("ssim_default: cannot compare images: %s", exc)
        return 0.0
    return _clamp(float(value))


def ssim_cibench(expected_png: bytes, found_png: bytes) -> float:
    """CIBENCH vis profile, a transcription of OpenCompass' ``sklearn_ssim``.

    ``img2`` = reference, ``img1`` = prediction; ``img1 = resize(img1,
    img2.shape[:2]) * 255`` cast to uint8; ``structural_similarity(img1, img2,
    channel_axis=-1)`` with the data range implied by uint8 (255).  Any
    exception gives 0, notably when one PNG is RGBA and the other RGB (the
    channel counts differ after resizing) or a greyscale PNG meets a colour
    one.  The raw SSIM is returned, as in OpenCompass (it can in principle be
    slightly negative).
    """
    try:
        import imageio.v3 as iio
        from skimage.metrics import structural_similarity
        from skimage.transform import resize

        with warnings.catch_warnings():  # imageio's plugin probing is noisy on bad bytes
            warnings.simplefilter("ignore")
            img2 = np.asarray(iio.imread(expected_png))
            img1 = np.asarray(iio.imread(found_png))
        img1 = resize(img1, img2.shape[:2])
        img1 = (255 * img1).astype(np.uint8)
        value = structural_similarity(img1, img2, channel_axis=-1)
    except Exception as exc:
        logger.info("ssim_cibench: comparison failed (scored 0): %s", exc)
        return 0.0
    return float(value)

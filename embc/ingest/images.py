"""Reading images: any common format, oriented by EXIF, as 8-bit RGB with transparency on white."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embc.environment import setting
from embc.ingest.items import ItemError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


class UnreadableImage(ItemError):
    """An image file that cannot be decoded; the message is the reason."""


def max_pixels() -> int:
    """The most pixels an image may have (EMBC_MAX_IMAGE_PIXELS, default 50 million): a larger one is skipped
    before it is decoded, so that a decompression bomb (a small file that decodes to gigabytes) cannot exhaust
    memory."""
    return int(setting("EMBC_MAX_IMAGE_PIXELS"))


def check_pixels(image, limit: int | None = None) -> None:
    """Refuse (UnreadableImage, a skip reason) an image over the pixel limit."""
    limit = limit or max_pixels()
    width, height = image.size
    if width * height > limit:
        raise UnreadableImage(f"{width}x{height} is {width * height:,} pixels, over the limit of {limit:,} "
                              "(EMBC_MAX_IMAGE_PIXELS)")


def load_rgb(path: str | Path):
    """The image at `path` as an RGB PIL image (the first frame of an animation)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    limit = max_pixels()
    Image.MAX_IMAGE_PIXELS = None  # embc's own limit below, checked before decoding, with a reason
    try:
        with Image.open(path) as image:
            check_pixels(image, limit)
            image.seek(0)
            image.load()
            return to_rgb(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise UnreadableImage("not an image") from None
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's errors for truncated and corrupt data
        raise UnreadableImage(f"corrupt or truncated image ({exc})") from None


def to_rgb(image):
    """8-bit RGB: palettes expanded, 16-bit depth scaled down, CMYK converted, transparency on white."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.uint32)
        scale = 257 if image.mode.startswith("I;16") or pixels.max() > 255 else 1
        image = Image.fromarray((pixels // scale).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        background.alpha_composite(image.convert("RGBA"))
        image = background
    return image.convert("RGB")

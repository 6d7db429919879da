"""Reading images: any common format, oriented by EXIF, as 8-bit RGB with transparency on white."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embc.ingest.items import ItemError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


class UnreadableImage(ItemError):
    """An image file that cannot be decoded; the message is the reason."""


def load_rgb(path: str | Path):
    """The image at `path` as an RGB PIL image (the first frame of an animation)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
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

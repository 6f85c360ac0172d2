"""Read and write still images as H×W×3 uint8 RGB arrays.

Reading goes through Pillow (EXIF orientation applied, every common mode converted to RGB); files that
Pillow cannot identify get one more try with OpenCV before they are reported as not an image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from synergywarp.atomic import publish, temporary_sibling, write_failure
from synergywarp.errors import InputError, OutputError

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm"}
)
"""Lower-case suffixes (with the dot) treated as still images, e.g. in frame folders."""

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_EXIF_ORIENTATION = 0x0112
STRIP_PIXELS = 1 << 20  # pixels converted at a time: a huge photo is never held as bytes or floats whole


def is_image_path(path: str | Path) -> bool:
    """True when `path` has one of IMAGE_EXTENSIONS (case-insensitive); the file is not opened."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def missing_file_error(path: Path, what: str) -> InputError:
    """The error for an input ``path`` that does not lead to a file: a symlink loop, a broken symlink,
    or nothing at all ("{what} not found")."""
    if path.is_symlink():
        try:
            path.stat()
        except OSError as error:
            if error.errno == 40:  # ELOOP
                return InputError(f"{what} {path} is a symlink loop")
        return InputError(f"{what} {path} is a broken symlink (it points to {path.readlink()})")
    return InputError(f"{what} not found: {path}")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as H×W×3 uint8 RGB.

    EXIF orientation is applied; greyscale, palette, CMYK and 16-bit images are converted (16-bit
    greyscale v → round(v / 257); 16-bit colour keeps Pillow's high byte, v >> 8, at most one level
    apart); transparent images (RGBA, LA, palette with transparency) are
    composited on white. Raises InputError naming the file when it is missing, empty or not an image.
    """
    path = Path(path)
    if not path.exists():
        raise missing_file_error(path, "image")
    if path.is_dir():
        raise InputError(f"expected an image file but got a folder: {path}")
    try:
        if path.stat().st_size == 0:
            raise InputError(f"image file is empty: {path}")
        with Image.open(path) as image:
            image.load()
            upright: Image.Image = image
            if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:  # (transposing copies the whole image)
                upright = ImageOps.exif_transpose(image)
            return pil_to_rgb(upright)
    except InputError:
        raise
    except UnidentifiedImageError:
        rgb = _read_with_opencv(path)
        if rgb is None:
            raise InputError(f"not an image (unrecognised format): {path}") from None
        return rgb
    except Image.DecompressionBombError as error:
        raise InputError(f"image too large to read safely: {path} ({error})") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise InputError(f"cannot read image {path}: {error}") from None


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Convert a Pillow image of any common mode to H×W×3 uint8 RGB (transparency → white).

    Converted a strip of rows at a time, so that the memory needed besides the two images is small."""
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        grey = _scale_wide_grey_to_uint8(np.asarray(image), mode)
        return np.repeat(grey[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in image.info
    ) or (mode in ("L", "RGB") and "transparency" in image.info)
    width, height = image.size
    rgb = np.empty((height, width, 3), np.uint8)
    rows = max(1, STRIP_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        strip = image.crop((0, top, width, min(top + rows, height)))
        rgb[top:top + strip.height] = _strip_to_rgb(strip, has_alpha)
    return rgb


def _strip_to_rgb(strip: Image.Image, has_alpha: bool) -> np.ndarray:
    if has_alpha:
        rgba = np.asarray(strip.convert("RGBA"), dtype=np.float32)
        alpha = rgba[:, :, 3:4] / 255.0
        composited = rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(np.rint(composited), 0, 255).astype(np.uint8)
    return np.asarray(strip if strip.mode == "RGB" else strip.convert("RGB"), dtype=np.uint8)


def _scale_wide_grey_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Map a single-channel 16-bit (`I;16*`), 32-bit int (`I`) or float (`F`) image H×W to uint8.

    16-bit data (modes `I;16*`, or `I` whose values exceed 255, as Pillow opens some 16-bit PNG/TIFF)
    is divided by 257 so 65535 → 255; `F` images in [0, 1] are scaled by 255, others are clipped.
    """
    values = values.astype(np.float64)
    if mode == "F":
        scale = 255.0 if values.size and values.max() <= 1.0 else 1.0
    elif mode in _SIXTEEN_BIT_MODES or (values.size and values.max() > 255):
        scale = 1.0 / 257.0
    else:
        scale = 1.0
    return np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)


def _read_with_opencv(path: Path) -> np.ndarray | None:
    """Fallback decoder for formats Pillow lacks; None when OpenCV cannot read it either."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    return np.ascontiguousarray(bgr[:, :, ::-1])


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """Write an H×W×3 (or H×W greyscale) uint8 array; the format follows the suffix.

    The file is written to a temporary name in the same folder and renamed into place, so a failure
    never leaves a half-written image. Raises OutputError when the folder cannot be written or the
    disk is full.
    """
    path = Path(path)
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or not (rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 3)):
        raise ValueError(f"write_image expects H×W×3 or H×W uint8, got {rgb.dtype} {rgb.shape}")
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise OutputError(f"unsupported image extension {path.suffix!r} for {path}")
    image_format = Image.registered_extensions().get(path.suffix.lower())
    temporary = temporary_sibling(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(temporary, format=image_format)
        publish(temporary, path)
    except OSError as error:
        raise write_failure(path, error) from None
    finally:
        temporary.unlink(missing_ok=True)

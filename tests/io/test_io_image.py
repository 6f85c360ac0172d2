"""read_image / write_image: modes, EXIF orientation, round trips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from synergywarp.io import is_image_path, read_image, write_image


def asymmetric_rgb(height: int = 40, width: int = 60) -> np.ndarray:
    """H×W×3 image with a red top-left block and a green bottom-left block on grey."""
    image = np.full((height, width, 3), 128, np.uint8)
    image[:10, :10] = (255, 0, 0)
    image[-10:, :10] = (0, 255, 0)
    return image


def test_png_round_trip_is_exact(tmp_path: Path) -> None:
    image = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    write_image(tmp_path / "a.png", image)
    read = read_image(tmp_path / "a.png")
    assert read.dtype == np.uint8 and read.shape == (17, 23, 3)
    np.testing.assert_array_equal(read, image)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary left behind


def test_exif_rotated_jpeg_comes_out_upright(tmp_path: Path) -> None:
    image = asymmetric_rgb()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: rotate 90° clockwise to display
    Image.fromarray(image).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    read = read_image(tmp_path / "phone.jpg")
    expected = np.rot90(image, k=-1)  # clockwise
    assert read.shape == expected.shape == (60, 40, 3)
    assert np.abs(read.astype(int) - expected).mean() < 4
    assert read[2, -2, 0] > 200 and read[2, -2, 1] < 60  # red block now top-right


def test_greyscale_png_becomes_three_equal_channels(tmp_path: Path) -> None:
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))
    Image.fromarray(grey, mode="L").save(tmp_path / "grey.png")
    read = read_image(tmp_path / "grey.png")
    assert read.shape == (5, 25, 3)
    for channel in range(3):
        np.testing.assert_array_equal(read[:, :, channel], grey)


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[:, :, :3] = (200, 40, 0)
    rgba[:, :, 3] = [[0, 255, 128], [0, 255, 128]]
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    read = read_image(tmp_path / "rgba.png")
    np.testing.assert_array_equal(read[:, 0], [[255, 255, 255]] * 2)  # transparent → white
    np.testing.assert_array_equal(read[:, 1], [[200, 40, 0]] * 2)  # opaque → colour
    alpha = 128 / 255
    expected_mid = np.rint(np.array([200, 40, 0]) * alpha + 255 * (1 - alpha))
    np.testing.assert_allclose(read[0, 2], expected_mid, atol=1)


def test_la_and_palette_with_transparency(tmp_path: Path) -> None:
    la = np.stack([np.full((4, 4), 50, np.uint8), np.zeros((4, 4), np.uint8)], axis=-1)
    la[:2, :, 1] = 255
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    read = read_image(tmp_path / "la.png")
    assert (read[:2] == 50).all() and (read[2:] == 255).all()

    palette_image = Image.new("P", (4, 4), 0)
    palette_image.putpalette([10, 20, 30, 200, 100, 0] + [0] * 762)
    palette_image.putpixel((0, 0), 1)
    palette_image.save(tmp_path / "pal.png", transparency=0)
    read = read_image(tmp_path / "pal.png")
    np.testing.assert_array_equal(read[0, 0], [200, 100, 0])
    np.testing.assert_array_equal(read[3, 3], [255, 255, 255])  # index 0 is transparent


def test_sixteen_bit_png_is_scaled_to_eight_bits(tmp_path: Path) -> None:
    grey16 = np.array([[0, 257, 32896, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "grey16.png"), grey16)
    read = read_image(tmp_path / "grey16.png")
    np.testing.assert_array_equal(read[0, :, 0], [0, 1, 128, 255])

    colour16 = np.zeros((1, 2, 3), np.uint16)
    colour16[0, 0] = (65535, 0, 32768)  # RGB
    colour16[0, 1] = (1000, 65535, 0)
    cv2.imwrite(str(tmp_path / "colour16.png"), colour16[:, :, ::-1])
    read = read_image(tmp_path / "colour16.png")
    np.testing.assert_allclose(read[0].astype(int), np.rint(colour16[0] / 257), atol=1)


def test_cmyk_jpeg_and_bilevel(tmp_path: Path) -> None:
    cyan = Image.new("CMYK", (8, 8), (255, 0, 0, 0))
    cyan.save(tmp_path / "cmyk.jpg", quality=100)
    read = read_image(tmp_path / "cmyk.jpg")
    assert read.shape == (8, 8, 3)
    np.testing.assert_allclose(read.reshape(-1, 3).mean(0), [0, 255, 255], atol=8)

    bilevel = Image.new("1", (3, 2), 1)
    bilevel.putpixel((0, 0), 0)
    bilevel.save(tmp_path / "bw.png")
    read = read_image(tmp_path / "bw.png")
    np.testing.assert_array_equal(read[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(read[1, 2], [255, 255, 255])


def test_image_extension_helpers(tmp_path: Path) -> None:
    assert is_image_path("x/FACE.JPG") and is_image_path("a.png")
    assert not is_image_path("clip.mp4")
    with pytest.raises(ValueError):
        write_image(tmp_path / "bad.png", np.zeros((4, 4, 3), np.float32))

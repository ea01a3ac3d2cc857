"""Image records: a folder per class, or Caffe's ImageData list file (`path label` lines),
decoded with Pillow (an optional extra) one record at a time in the prefetch thread."""
import io
from pathlib import Path

import numpy as np

from . import DataFileError
from .sources import Source

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff",
                  ".webp"}


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise DataFileError("image data needs the Pillow package: pip install Pillow") from None
    return Image


def decode_image(data, is_color=True, new_height=0, new_width=0, bgr=False):
    """uint8 (C, H, W) from a path or encoded bytes; C = 3 (RGB, or BGR as Caffe's OpenCV
    gives, with `bgr`) or 1. Resized (bilinear) when new_height and new_width are set."""
    Image = _pil()
    src = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    with Image.open(src) as img:
        img = img.convert("RGB" if is_color else "L")
        if new_height and new_width:
            img = img.resize((new_width, new_height), Image.BILINEAR)
        a = np.asarray(img)
    if a.ndim == 2:
        return a[None]
    a = a.transpose(2, 0, 1)
    return a[::-1] if bgr else a


def list_file_items(path, root_folder=""):
    """[(path, label)] from a Caffe ImageData list file: `relative/path.jpg 3` per line."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path}: list file not found")
    items = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, label = line.rpartition(" ")
        try:
            items.append((Path(root_folder or path.parent) / name.strip(), int(label)))
        except ValueError:
            raise DataFileError(f"{path}, line {lineno}: expected 'path label', got "
                                f"{line!r}") from None
    if not items:
        raise DataFileError(f"{path}: the list file names no images")
    return items


def folder_items(folder):
    """[(path, label)] from a folder per class (classes sorted by name get labels 0, 1, ...)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFileError(f"{folder}: image folder not found")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DataFileError(f"{folder}: no class folders in it (expect {folder}/<class>/*.png)")
    items = [(p, label) for label, name in enumerate(classes)
             for p in sorted((folder / name).iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not items:
        raise DataFileError(f"{folder}: the class folders hold no images")
    return items, classes


class ImageSource(Source):
    """Images decoded on demand; every record must decode to the first one's shape (set
    new_height / new_width to resize them all)."""

    def __init__(self, items, path, is_color=True, new_height=0, new_width=0):
        self.items, self.path = items, str(path)
        self.is_color, self.new_height, self.new_width = is_color, new_height, new_width
        first = self.decode(0)
        self.shapes = [first.shape, ()]

    def __len__(self):
        return len(self.items)

    def decode(self, i):
        path = self.items[i][0]
        try:
            return decode_image(path, self.is_color, self.new_height, self.new_width)
        except DataFileError:
            raise
        except Exception as exc:    # Pillow raises several kinds (UnidentifiedImageError, OSError)
            raise DataFileError(f"{self.where(i)}: the image does not decode ({exc})") from None

    def fetch(self, index, outs):
        for k, i in enumerate(index):
            image = self.decode(i)
            if image.shape != self.shapes[0]:
                raise DataFileError(f"{self.where(i)}: image of shape {list(image.shape)}, "
                                    f"the first one is {list(self.shapes[0])} (records must "
                                    "match; set new_height and new_width to resize)")
            outs[0][k] = image
            if len(outs) > 1:
                outs[1][k] = self.items[i][1]

    def where(self, i):
        return f"{self.items[i][0]} (record {i} of {self.path})"

"""ImageFolderData: images as `data` (N, C, H, W) (values 0..255) and `label` (N,) tops.

Either `root` is a folder per class (`root/cat/*.jpg`, `root/dog/*.jpg`: classes sorted by
name get labels 0, 1, ...), or `source` is Caffe's ImageData list file (`path label` per
line, paths relative to `root_folder`, default the list's folder). Images decode with Pillow
(an optional extra) in the prefetch thread: RGB (or grey with `is_color: false`), resized to
`new_height` x `new_width` when set; otherwise every image must have the first one's size.
No gradient.

    - {name: data, type: ImageFolderData, top: [data, label], root: images/train,
       batch_size: 32, transform: [{resized_crop: {size: 64}}, {mirror: true}, {scale: 0.0039}]}
"""
from dataclasses import dataclass

from ..config.schema import bounded
from ..data.images import ImageSource, folder_items, list_file_items
from ..data.layer import DataLayer, DataParams
from ..registry import register_layer


@register_layer("ImageFolderData")
class ImageFolderData(DataLayer):
    @dataclass
    class Params(DataParams):
        root: str = ""              # a folder per class
        source: str = ""            # or a list file: `path label` per line
        root_folder: str = ""       # prefix of the list file's paths
        is_color: bool = True
        new_height: int = 0
        new_width: int = 0
        rand_skip: int = bounded(0, lo=0)      # start at a random record in [0, rand_skip)

        def __post_init__(self):
            if bool(self.root) == bool(self.source):
                raise ValueError("ImageFolderData needs either 'root' (a folder per class) or "
                                 "'source' (a list file of 'path label' lines)")
            if (self.new_height > 0) != (self.new_width > 0):
                raise ValueError("set both new_height and new_width, or neither")

    def open_source(self):
        p = self.p
        if p.root:
            items, self.classes = folder_items(p.root)
            where = p.root
        else:
            items, self.classes, where = list_file_items(p.source, p.root_folder), None, p.source
        return ImageSource(items, where, p.is_color, p.new_height, p.new_width)

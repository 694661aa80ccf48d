"""Generator parameters, the OCHuman-like preset and the per-image seeds."""
import zlib
from dataclasses import dataclass

import numpy as np

DEFAULT_IMAGE_SIZE = (256, 192)  # (width, height)
MIN_IMAGE_SIDE = 64
MAX_IMAGE_SIDE = 4096


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the generator (the defaults define the project's dataset)."""
    people_probs: tuple = (0.2, 0.34, 0.26, 0.2)  # P(1, 2, 3, 4 people)
    overlap_prob: float = 0.6  # a further person is placed onto an earlier one
    min_height: float = 0.42  # standing body height, fraction of image height
    max_height: float = 0.95
    overlap_shift: tuple = (0.05, 0.4)  # |horizontal shift| onto the anchor, anchor widths
    min_visible_fraction: float = 0.3  # of a person's drawn pixels not hidden by others
    min_visible_joints: int = 6  # joints with v = 2
    jpeg_quality: int = 90
    max_attempts: int = 10  # layouts tried until every person is sufficiently visible
    # Every person's (visible) box must reach this IoU with another person's box; 0 = no
    # constraint. Layouts are redrawn until it holds (see :func:`render_image`).
    min_max_iou: float = 0.0


# OCHuman-level occlusion (validation only): two to four people per image, every person
# placed onto an earlier one, close behind it, allowed to be more hidden, and every person's
# visible box at IoU >= 0.5 with another's. The shift range sets the mean MaxIoU: (0, 0.15)
# anchor widths gives about OCHuman's 0.67 (docs/results_archive.md, "Next measurements").
OCHUMAN_LIKE = SyntheticConfig(people_probs=(0.0, 0.5, 0.3, 0.2), overlap_prob=1.0,
                               overlap_shift=(0.0, 0.15), min_visible_fraction=0.2,
                               min_visible_joints=5, min_max_iou=0.5, max_attempts=200)

# What the OCHuman paper (Zhang et al., "Pose2Seg", CVPR 2019) reports for the dataset: 8110
# people in 4731 images, each with a box IoU > 0.5 to at least one other person, and an
# average MaxIoU of 0.67 per person.
OCHUMAN_PUBLISHED = dict(images=4731, people=8110, people_per_image=8110 / 4731,
                         mean_max_iou=0.67, min_max_iou=0.5)



def image_seed(seed, split, index):
    """The ``SeedSequence`` of image ``index`` of ``split`` for the dataset ``seed``."""
    return np.random.SeedSequence([int(seed), zlib.crc32(str(split).encode()), int(index)])

"""Synthetic crowded-scene keypoint dataset in COCO format (the project's default dataset).

Each image holds 1 to 4 articulated, textured 2-D human figures with the 17 COCO joints,
drawn back to front over cluttered backgrounds. Many images contain pairs of people whose
boxes overlap strongly (IoU >= 0.4), so that a person's box also contains most of another
person: the situation MIPNet is built for.

Layout of a generated dataset (what ``DATASET.ROOT`` of ``experiments/synthetic`` expects)::

    DIR/images/train/000000000001.jpg ...
    DIR/images/val/000000000001.jpg ...
    DIR/annotations/person_keypoints_train.json
    DIR/annotations/person_keypoints_val.json

Annotations follow COCO, whose boxes and areas come from the visible segmentation: ``bbox``
is the tight box of the person's *visible* pixels (not covered by a nearer person) and
``area`` their number, so the box of a partly hidden person covers only what can be seen
and often lies largely inside the box of the person in front, as in COCO and OCHuman.
Keypoints are ``(x, y, v)`` with ``v = 2`` visible, ``v = 1`` hidden behind a nearer
person or the person's own body or head (hidden joints may lie outside the box), and
``v = 0`` (with ``x = y = 0``) outside the image.

Every image is rendered from its own random generator seeded by ``(seed, split, index)``,
so the output does not depend on the number of worker processes.

Command line: ``python tools/make_synthetic.py --out DIR --num-train N --num-val M --seed S
[--image-size W H] [--workers K] [--preview PNG]``; in Python: :func:`generate_dataset`, or
:func:`render_image` for one image in memory.

Visual cues that keep the task learnable: joints are marked by small dark discs at limb
ends, each limb segment has its own shade (lower segments darker than upper ones), limbs
of the person's left side are drawn darker than the right ones, and the face (eyes, nose,
mouth, visible ears, hair) shows which way the head turns; people facing away show only
hair. Note that horizontal-flip augmentation swaps the left/right labels but not the
shading, so a model trained with flips must rely on the geometric cues (face, facing).

Modules: :mod:`.config` (parameters, presets, seeds), :mod:`.body` (part labels, poses,
articulated figure), :mod:`.drawing` (label maps, colours, background), :mod:`.scene`
(layout and :func:`render_image`), :mod:`.writer` (dataset files), :mod:`.statistics`
(occlusion statistics of any COCO keypoint dict).
"""
from .config import (DEFAULT_IMAGE_SIZE, OCHUMAN_LIKE, OCHUMAN_PUBLISHED, SyntheticConfig,
                     image_seed)
from .scene import render_image
from .statistics import (crowd_statistics, crowd_statistics_table, max_iou_per_person,
                         overlap_pair_fraction, statistics_rows)
from .writer import generate_dataset, generate_split

__all__ = ['DEFAULT_IMAGE_SIZE', 'SyntheticConfig', 'OCHUMAN_LIKE', 'OCHUMAN_PUBLISHED',
           'render_image', 'generate_split', 'generate_dataset', 'overlap_pair_fraction',
           'max_iou_per_person', 'crowd_statistics', 'crowd_statistics_table', 'statistics_rows',
           'image_seed']

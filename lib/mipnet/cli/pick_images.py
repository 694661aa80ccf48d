"""Pick the validation images where MIPNet's second instance matters, for the demo pictures.

    python tools/pick_images.py --gt data/synthetic/annotations/person_keypoints_val.json \
        --results-dir output/demo/.../results --images data/synthetic/images/val \
        --out output/demo/val_images --num 4

The images come from the per-instance result files that ``tools/test.py`` writes
(``keypoints_<set>_results_instance{0,1}.json``): first the images with the most people
found only by instance 1 (:func:`mipnet.evaluation.subsets.second_instance_finds`), then,
if fewer than ``--num`` have any, images holding an occluded pair (box IoU >= 0.5), by id.
"""
import os
import shutil
import sys

from mipnet.cli.parsers import pick_images_parser
from mipnet.engine.evaluate import InstanceMode, results_file_name
from mipnet.evaluation.metrics import load_coco
from mipnet.evaluation.subsets import occluded_ann_ids, second_instance_finds


def pick_images(gt, first, second, num, dataset='coco', oks_thre=0.5, score_thre=0.2):
    """Up to ``num`` images where the second instance matters.

    Args:
        gt: COCO ground truth (path, dict or COCO object).
        first, second: instance-0 / instance-1 results (lists or JSON paths).
        num: how many images.
        dataset, oks_thre, score_thre: see :func:`second_instance_finds`.

    Returns:
        list of (image id, annotation ids found only by instance 1), the images with most
        such people first (ties by id), then occluded-pair images with an empty list.
    """
    coco = load_coco(gt)
    finds = second_instance_finds(coco, first, second, dataset, oks_thre, score_thre)
    picked = sorted(finds.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:num]
    occluded = sorted({coco.anns[a]['image_id'] for a in occluded_ann_ids(coco)} - set(finds))
    picked += [(img, []) for img in occluded[:num - len(picked)]]
    return picked


def main(argv=None):
    args = pick_images_parser().parse_args(argv)
    files = [os.path.join(args.results_dir, results_file_name(args.set, InstanceMode(i)))
             for i in (0, 1)]
    for path in [args.gt, *files]:
        if not os.path.isfile(path):
            sys.exit(f'error: {path} not found (run tools/test.py with a 2-instance model '
                     f'first; it writes the per-instance result files)')
    try:
        coco = load_coco(args.gt)
        picked = pick_images(coco, *files, args.num, score_thre=args.score_thre)
    except ValueError as exc:       # a malformed ground-truth or results file, named
        sys.exit(f'error: {" ".join(str(exc).split())}')
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    for img, anns in picked:
        name = coco.imgs[img]['file_name']
        shutil.copy2(os.path.join(args.images, name), args.out)
        why = (f'people found only by instance 1: {len(anns)} (annotation ids '
               f'{", ".join(map(str, anns))})' if anns else 'an occluded pair (box IoU >= 0.5)')
        print(f'    {name}: {why}')
    return picked

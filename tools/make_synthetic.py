"""Write the synthetic crowded-people keypoint dataset (COCO format).

    python tools/make_synthetic.py --out data/synthetic --num-train 3000 --num-val 500 \
        [--seed 0] [--workers 2] [--preview PNG] [--num-val-ochuman 400]

Options: ``--help``; the tool is :mod:`mipnet.cli.make_synthetic`.
"""
import sys

from mipnet.cli.make_synthetic import main

if __name__ == '__main__':
    sys.exit(main())

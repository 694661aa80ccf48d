"""Copy the validation images where MIPNet's second instance matters into a folder.

    python tools/pick_images.py --gt ANNOTATIONS.json --results-dir RUN/results \
        --images IMAGE_DIR --out FOLDER [--num 4]
"""
from mipnet.cli.pick_images import main

if __name__ == '__main__':
    main()

"""``tools/model_summary.py``: parameters and FLOPs per box of a config's model
(:mod:`mipnet.models.summary` measures them)."""
from mipnet.cli.parsers import summary_parser
from mipnet.config import load_config
from mipnet.models import build_model
from mipnet.models.summary import model_summary

__all__ = ['main']


def main(argv=None):
    """``python tools/model_summary.py --cfg FILE [KEY VALUE ...]``: parameters and FLOPs."""
    args = summary_parser().parse_args(argv)
    cfg = load_config(args.cfg, args.opts)
    model = build_model(cfg)
    print(f'{cfg.MODEL.NAME} {list(cfg.MODEL.IMAGE_SIZE)}: ' +
          model_summary(model, cfg.MODEL.IMAGE_SIZE))

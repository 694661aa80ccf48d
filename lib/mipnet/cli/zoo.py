"""``tools/zoo.py`` / ``mipnet-zoo``: list the model zoo, download files ahead of use, convert a
local mmpose checkpoint.

    python tools/zoo.py list [--kind pose|imagenet|detector]
    python tools/zoo.py download NAME [NAME ...]
    python tools/zoo.py convert MMPOSE.pth OUT.pth
"""
import logging
import os
import sys

from mipnet import zoo
from mipnet.cli.parsers import zoo_parser
from mipnet.utils.checkpoint import CheckpointError

__all__ = ['main', 'listing']


def _size(entry):
    path = zoo.local_file(entry)
    if os.path.isfile(path):
        return f'{os.path.getsize(path) / 1e6:.1f} MB'
    return f'~{entry.approx_mb:.0f} MB' if entry.approx_mb else '?'


def _state(entry):
    if zoo.is_cached(entry):
        return 'cached'
    return 'download on first use' if entry.url else 'manual download'


def listing(kind=None):
    """The text of ``tools/zoo.py list``: one block per entry (name, kind, size, cache state,
    description, file, source, configs)."""
    lines = [f'model zoo cache: {zoo.zoo_home()} (MIPNET_HOME); use a name as zoo:NAME '
             '(weights) or --detector NAME (detectors)', '']
    for entry in zoo.ENTRIES.values():
        if kind and entry.kind != kind:
            continue
        lines.append(f'{entry.name}  [{entry.kind}, {_size(entry)}, {_state(entry)}]')
        lines.append(f'    {entry.description}')
        lines.append(f'    file: {entry.filename} ({zoo.LAYOUTS[entry.layout]})')
        if entry.url:
            check = (f'SHA-256 starts with {entry.sha256_prefix}' if entry.sha256_prefix else
                     'SHA-256 recorded at first download')
            lines.append(f'    from: {entry.url} ({check})')
        else:
            lines.append(f'    from: {entry.manual}; save it as {zoo.raw_path(entry)}')
        if entry.configs:
            lines.append(f'    configs: {", ".join(entry.configs)}')
        lines.append('')
    return '\n'.join(lines)


def main(argv=None):
    """Entry point; returns the exit status (0, or 1 after one ``error:`` line on stderr)."""
    args = zoo_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s',
                            stream=sys.stderr)
    try:
        if args.command == 'list':
            print(listing(args.kind))
        elif args.command == 'download':
            entries = [zoo.get_entry(name) for name in args.names]
            for entry in entries:
                print(f'{entry.name}: {zoo.resolve(entry.name)}')
        else:
            from mipnet.zoo.convert import convert_file
            layout, count = convert_file(args.src, args.dst)
            print(f'{args.dst}: {count} tensors converted from the {layout} layout')
    except (CheckpointError, OSError) as exc:
        print('error: ' + ' '.join(str(exc).split()), file=sys.stderr)
        return 1
    return 0

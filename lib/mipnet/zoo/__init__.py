"""Weights and person detectors by name: ``zoo:NAME`` wherever a weights path is accepted,
and ``detector='yolox-m'`` (etc.) for the person detector.

    from mipnet import zoo
    path = zoo.local_path('zoo:mmpose-hrnet-w32-coco-256x192')   # downloaded, verified, converted

Files download into ``$MIPNET_HOME`` (default ``~/.cache/mipnet``) with a progress bar, are
verified before every use and are converted to this port's layout where needed
(:mod:`mipnet.zoo.cache`); ``tools/zoo.py list`` shows the names (:mod:`mipnet.zoo.entries`).

Public API:
    ENTRIES, ZooEntry: the names and what they stand for
    get_entry(name): the entry of a short name or published file name
    is_zoo_name(value): whether a path value is ``zoo:NAME``
    local_path(value, kind): a path value with ``zoo:NAME`` resolved to a local file
    resolve(name): the local, verified file of a name
    detector_names(), is_cached(entry), zoo_home()
    ZooError: a CheckpointError naming the URL and where to put the file by hand
"""
from mipnet.zoo.cache import ZooError, is_cached, local_file, raw_path, resolve_entry, zoo_home
from mipnet.zoo.entries import ENTRIES, KINDS, LAYOUTS, ZooEntry

__all__ = ['PREFIX', 'ENTRIES', 'KINDS', 'LAYOUTS', 'ZooEntry', 'ZooError', 'get_entry',
           'is_zoo_name', 'local_path', 'resolve', 'detector_names', 'is_cached', 'zoo_home',
           'local_file', 'raw_path']

PREFIX = 'zoo:'


def get_entry(name):
    """The entry named ``name`` (short name or published file name; ``zoo:`` optional).

    Raises:
        ZooError: no such name (the message lists the names).
    """
    name = str(name)
    if name.startswith(PREFIX):
        name = name[len(PREFIX):]
    if name in ENTRIES:
        return ENTRIES[name]
    for entry in ENTRIES.values():
        if name == entry.filename:
            return entry
    raise ZooError(f'unknown zoo name {name!r}; known: {", ".join(ENTRIES)} '
                   '(`tools/zoo.py list` describes them)')


def is_zoo_name(value):
    """True for a ``zoo:NAME`` path value."""
    return isinstance(value, str) and value.startswith(PREFIX)


def resolve(name, progress=True):
    """The local, verified file of the zoo name ``name`` (see :func:`resolve_entry`)."""
    return resolve_entry(get_entry(name), progress=progress)


def local_path(value, kind=None, progress=True):
    """``value`` itself, or for ``zoo:NAME`` the local file of NAME (downloaded, verified,
    converted as needed).

    Args:
        value: a path or ``zoo:NAME``.
        kind: the kind the caller loads ('pose', 'imagenet' or 'detector'; None: any).

    Raises:
        ZooError: unknown name, a name of another kind, or a file that cannot be had.
    """
    if not is_zoo_name(value):
        return value
    entry = get_entry(value)
    if kind is not None and entry.kind != kind:
        raise ZooError(f'{value} is a {entry.kind} file ({KINDS[entry.kind]}), not '
                       f'{KINDS[kind].split(":")[0]}')
    return resolve_entry(entry, progress=progress)


def detector_names():
    """Names of the zoo's person detectors (``detector=NAME``)."""
    return [name for name, entry in ENTRIES.items() if entry.kind == 'detector']

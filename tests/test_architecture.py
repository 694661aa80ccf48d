"""The package's import structure, read statically (ast) from lib/mipnet: no import cycle
between subpackages, ``utils`` a leaf, no module reaching into another's private names.

Every import counts, also those inside functions: a lazy import is still a dependency.
"""
import ast
import collections

import pytest

from tests.conftest import REPO

PACKAGE = REPO / 'lib' / 'mipnet'

def module_name(path, root):
    """'mipnet.a.b' of ``root/a/b.py`` (``root`` the package folder named mipnet)."""
    parts = list(path.relative_to(root.parent).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def package_imports(root):
    """Every import of the package's own modules.

    Returns:
        list of (importer module, imported module, imported names or (), path, line);
        ``from mipnet import x`` counts as an import of module ``mipnet.x``.
    """
    found = []
    top = root.name
    for path in sorted(root.rglob('*.py')):
        importer = module_name(path, root)
        is_package = path.name == '__init__.py'
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split('.')[0] == top:
                        found.append((importer, alias.name, (), path, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = importer.split('.')
                    base = base[:len(base) - node.level + (1 if is_package else 0)]
                    module = '.'.join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ''
                if module.split('.')[0] != top:
                    continue
                names = tuple(a.name for a in node.names)
                if module == top:
                    for name in names:
                        found.append((importer, f'{top}.{name}', (), path, node.lineno))
                else:
                    found.append((importer, module, names, path, node.lineno))
    return found


def subpackage(module):
    """'data' of 'mipnet.data.coco', 'losses' of 'mipnet.losses', None of 'mipnet'."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else None


def subpackage_graph(imports):
    """{subpackage: {subpackage it imports: [where, ...]}} without self-edges."""
    graph = collections.defaultdict(lambda: collections.defaultdict(list))
    for importer, module, _, path, line in imports:
        a, b = subpackage(importer), subpackage(module)
        if a and b and a != b:
            graph[a][b].append(f'{path.relative_to(REPO) if REPO in path.parents else path}'
                               f':{line}')
    return graph


def find_cycles(graph):
    """Strongly connected components of more than one node (sorted lists)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(set(graph) | {n for edges in graph.values() for n in edges}):
        if node not in index:
            visit(node)
    return cycles


def private_uses(root, imports):
    """(importer, module, name, where) for every private name taken from another module:
    ``from m import _x`` and ``m._x`` on an imported package module ``m``."""
    uses = []
    for importer, module, names, path, line in imports:
        for name in names:
            if name.startswith('_') and not name.startswith('__'):
                uses.append((importer, module, name, f'{path}:{line}'))
    for path in sorted(root.rglob('*.py')):
        tree = ast.parse(path.read_text(), str(path))
        bound = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.split('.')[0] == root.name:
                for alias in node.names:
                    bound[alias.asname or alias.name] = f'{node.module}.{alias.name}'
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split('.')[0] == root.name:
                        bound[alias.asname or alias.name] = alias.asname and alias.name \
                            or root.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id in bound and node.attr.startswith('_') and \
                    not node.attr.startswith('__'):
                uses.append((module_name(path, root), bound[node.value.id], node.attr,
                             f'{path}:{node.lineno}'))
    return uses


@pytest.fixture(scope='module')
def imports():
    return package_imports(PACKAGE)


def test_scan_sees_the_package(imports):
    # Guards against a scan that silently finds nothing (and so can never fail).
    graph = subpackage_graph(imports)
    assert {'data', 'models', 'evaluation', 'engine', 'apis', 'vis'} <= set(graph)
    assert 'data' in graph['engine'] and 'utils' in graph['data']


def test_no_import_cycle_between_subpackages(imports):
    graph = subpackage_graph(imports)
    cycles = find_cycles(graph)
    detail = [f'{a} -> {b}: {", ".join(graph[a][b])}'
              for cycle in cycles for a in cycle for b in cycle if b in graph.get(a, {})]
    assert not cycles, f'import cycles between subpackages {cycles}:\n' + '\n'.join(detail)


def test_utils_is_a_leaf(imports):
    outside = [f'{path}:{line} imports {module}' for importer, module, _, path, line in imports
               if subpackage(importer) == 'utils' and subpackage(module) != 'utils']
    assert not outside, 'mipnet.utils must import nothing else of mipnet:\n' + \
        '\n'.join(outside)


def imports_between(imports, importer_package, imported_package):
    """'path:line imports module' of every import of ``imported_package`` by a module of
    ``importer_package`` (subpackage names)."""
    return [f'{path}:{line} imports {module}' for importer, module, _, path, line in imports
            if subpackage(importer) == importer_package and
            subpackage(module) == imported_package]


def test_engine_imports_nothing_from_cli(imports):
    # The command front ends (mipnet.cli) drive the loops (mipnet.engine), never the reverse.
    found = imports_between(imports, 'engine', 'cli')
    assert not found, 'mipnet.engine must import nothing of mipnet.cli:\n' + '\n'.join(found)


def test_no_module_uses_another_modules_private_names(imports):
    found = private_uses(PACKAGE, imports)
    assert not found, 'private names used across modules (make them public):\n' + \
        '\n'.join(f'{where}: {importer} uses {module}.{name}'
                  for importer, module, name, where in found)


def test_checks_catch_violations(tmp_path):
    # A small package with each kind of violation, including relative and lazy imports.
    root = tmp_path / 'mipnet'
    files = {
        '__init__.py': '',
        'utils/__init__.py': '',
        'utils/io.py': 'def f():\n    from mipnet.data import x\n',
        'data/__init__.py': 'from .core import _hidden\n',
        'data/core.py': 'from mipnet import models\n_hidden = 1\n',
        'models/__init__.py': 'import mipnet.data.core as core\ny = core._hidden\n',
        'engine/__init__.py': '',
        'engine/loop.py': 'def run():\n    from ..cli.parsers import p\n',
        'cli/__init__.py': '',
        'cli/parsers.py': 'p = 1\n',
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    imports = package_imports(root)
    graph = subpackage_graph(imports)
    assert find_cycles(graph) == [['data', 'models']]
    assert imports_between(imports, 'engine', 'cli') == \
        [f'{root / "engine" / "loop.py"}:2 imports mipnet.cli.parsers']
    assert 'data' in graph['utils']
    private = {(i, m, n) for i, m, n, _ in private_uses(root, imports)}
    assert private == {('mipnet.data', 'mipnet.data.core', '_hidden'),
                       ('mipnet.models', 'mipnet.data.core', '_hidden')}

"""Charts (matplotlib, imported on use: the ``plot`` extra): the figure of the crowd report."""
import os

__all__ = ['crowd_report_figure']

_NAMES = {'merged': 'merged', 'any instance': 'any instance', 'only instance >= 1': 'only k ≥ 1'}


def crowd_report_figure(report, path):
    """People found per instance mode, on all people and on the occluded subset: one group
    of bars per mode, the number on each bar, the group sizes as dashed lines.

    Args:
        report: a crowd report dict (:func:`mipnet.engine.crowd_report.crowd_report`):
            'people_found' ({'people': {'all', 'occluded'}, 'found': {row: {'all',
            'occluded'}}}), 'instances', 'model', 'found_oks'.
        path: PNG file to write.

    Raises:
        ImportError: matplotlib is not installed.
    """
    import matplotlib
    import matplotlib.ticker
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    found = report['people_found']
    people = found['people']
    rows = list(found['found'])
    single = report['instances'] < 2
    labels = ['instance 0\n(the only one)' if single else _NAMES.get(r, r.replace('instance ',
                                                                                  'k = '))
              for r in rows]
    groups = (('all', f'all people ({people["all"]}, dashed)', 'tab:blue'),
              ('occluded', f'occluded people ({people["occluded"]}, dashed)', 'tab:orange'))
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(5.5, 1.25 * len(rows) + 1.5), 3.8), dpi=110)
    for g, (key, name, color) in enumerate(groups):
        xs = [i + (g - 0.5) * width for i in range(len(rows))]
        values = [found['found'][r][key] for r in rows]
        bars = ax.bar(xs, values, width, label=name, color=color)
        ax.bar_label(bars, fontsize=8, padding=1)
        ax.axhline(people[key], color=color, lw=1, ls='--', alpha=0.7)
    ax.set_xticks(range(len(rows)), labels, fontsize=9)
    ax.set_ylabel(f'people found (OKS ≥ {report["found_oks"]})')
    ax.set_ylim(0, max(people.values()) * 1.25 + 1)
    ax.set_title(f'{report["model"]} on {os.path.basename(report["annotation_file"])}\n'
                 'people found per instance mode', fontsize=9)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc='upper right', framealpha=0.9)
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

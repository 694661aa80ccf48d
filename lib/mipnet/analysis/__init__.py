"""Analyses of trained pose models beyond the validation metrics, as library functions:
the MIPNet-vs-HRNet comparison on synthetic crowds that benchmarks/compare_baseline.py
drives.

- :mod:`~mipnet.analysis.settings`: the two models, presets, reference schedule, overrides;
- :mod:`~mipnet.analysis.compare`: dataset caching, training runs (a training hook records
  the occluded subset), the fine-tuning recipe, whole comparisons writing their outputs;
- :mod:`~mipnet.analysis.evaluation`: occluded subset, per-box outcomes, crowd-merged boxes
  of a checkpoint;
- :mod:`~mipnet.analysis.report`: the Markdown tables; :mod:`~mipnet.analysis.figures`: the
  plot and the prediction figure.
"""

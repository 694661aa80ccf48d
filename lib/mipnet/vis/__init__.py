"""Drawing: the package's only drawing code.

:mod:`mipnet.vis.draw` holds the NumPy/OpenCV primitives (poses, boxes, grids);
:mod:`mipnet.vis.debug` the training debug images built on them.
"""
from mipnet.vis.debug import denormalize_images, save_debug_images, skeleton_for
from mipnet.vis.draw import (draw_annotations, draw_box, draw_pose, draw_poses, draw_scale,
                             heatmap_grid, joint_grid, layout_labels, legend_strip, make_grid,
                             pose_color)

__all__ = ['pose_color', 'draw_box', 'draw_pose', 'draw_poses', 'draw_scale', 'layout_labels',
           'legend_strip', 'draw_annotations', 'make_grid',
           'joint_grid', 'heatmap_grid', 'denormalize_images', 'skeleton_for',
           'save_debug_images']

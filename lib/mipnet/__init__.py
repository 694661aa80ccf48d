"""MIPNet: Multi-Instance Pose Networks for top-down human pose estimation."""
__version__ = "0.1.0"

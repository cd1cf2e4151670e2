"""Tests of defstab_lib.plots, one file per module (tests/plots/test_<module>.py)."""

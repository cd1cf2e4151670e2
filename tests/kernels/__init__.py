"""Tests of defstab_lib.kernels, one file per module (tests/kernels/test_<module>.py)."""

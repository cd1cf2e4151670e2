"""Tests of defstab_lib.data, one file per module (tests/data/test_<module>.py)."""

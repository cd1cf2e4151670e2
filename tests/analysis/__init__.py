"""Tests of defstab_lib.analysis, one file per module (tests/analysis/test_<module>.py)."""

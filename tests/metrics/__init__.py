"""Tests of defstab_lib.metrics, one file per module (tests/metrics/test_<module>.py)."""

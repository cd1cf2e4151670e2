"""Tests of defstab_lib.runs, one file per module (tests/runs/test_<module>.py)."""

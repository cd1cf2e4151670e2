"""Tests of defstab_lib.deform, one file per module (tests/deform/test_<module>.py)."""

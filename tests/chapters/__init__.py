"""Tests of defstab_lib.chapters, one file per module (tests/chapters/test_<module>.py)."""

"""The tests, laid out like the package: tests/<subpackage>/test_<module>.py for defstab_lib/<subpackage>/<module>.py."""

"""The dataset files (``defstab_lib/data/files.py``): a truncated IDX file is an error."""

from __future__ import annotations

import struct

import pytest

from defstab_lib import data


def test_truncated_idx_file_is_an_error(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 5, 28, 28) + bytes(100))
    with pytest.raises(ValueError, match="expected 3920 values"):
        data.read_idx(path)

"""lib.atomic.write_atomic: complete or absent, never half-written."""

import os

import pytest

from lib.atomic import write_atomic


def test_writes_text_bytes_and_streams(tmp_path):
    assert write_atomic(tmp_path / "a" / "t.txt", "héllo").read_text(encoding="utf-8") == "héllo"
    assert write_atomic(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    write_atomic(tmp_path / "c.bin", lambda f: [f.write(b"ab"), f.write(b"cd")])
    assert (tmp_path / "c.bin").read_bytes() == b"abcd"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b.bin", "c.bin"]


def test_an_interrupted_writer_leaves_nothing_under_the_final_name(tmp_path):
    def half_then_crash(f):
        f.write(b"half of it")
        raise KeyboardInterrupt  # a kernel interrupted mid-write

    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "model.pt", half_then_crash)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    write_atomic(path, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, "new")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_rejects_other_content(tmp_path):
    with pytest.raises(TypeError, match="bytes, str or a function"):
        write_atomic(tmp_path / "x", 3.5)

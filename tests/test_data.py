import gzip
from pathlib import Path

import numpy as np
import pytest
from conftest import fake_split, idx_bytes, write_split

from lib import data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _held(n):
    """Which of the official training file's n images the validation split holds."""
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(data.VALIDATION_SEED).permutation(n)[: data.validation_size(n)]] = True
    return held


def test_the_validation_split_is_a_fixed_random_sixth_of_the_training_file(isolated_data, tmp_path):
    x, y = fake_split(600)
    write_split(tmp_path / "mnist", "train", x, y)
    tx, _ = data.load_mnist("train", data_dir=tmp_path, allow_download=False)
    vx, _ = data.load_mnist("validation", data_dir=tmp_path, allow_download=False)
    assert len(vx) == 100 and len(tx) == 500  # a sixth, and the rest
    flat = {bytes(a) for a in x.reshape(600, -1)}
    assert {bytes(a) for a in tx.reshape(500, -1)} | {bytes(a) for a in vx.reshape(100, -1)} == flat
    assert not {bytes(a) for a in tx.reshape(500, -1)} & {bytes(a) for a in vx.reshape(100, -1)}
    positions = np.flatnonzero(_held(600))
    assert positions.min() < 100 and positions.max() > 500  # spread over the file, not its end
    again, _ = data.load_mnist("validation", data_dir=tmp_path, allow_download=False)
    np.testing.assert_array_equal(again, vx)  # the same every time
    with pytest.raises(ValueError, match="'train', 'validation' or 'test'"):
        data.load_mnist("val", data_dir=tmp_path, allow_download=False)


def test_loads_from_data_dir_gz_and_raw(isolated_data, tmp_path):
    x, y = fake_split(30)
    write_split(tmp_path / "d1" / "mnist", "train", x, y, gz=True)
    write_split(tmp_path / "d2" / "mnist", "test", x[:10], y[:10], gz=False)
    gx, gy = data.load_mnist("train", data_dir=tmp_path / "d1", allow_download=False)
    vx, vy = data.load_mnist("validation", data_dir=tmp_path / "d1", allow_download=False)
    assert gx.dtype == np.uint8 and gx.shape == (25, 28, 28) and gy.shape == (25,) and vx.shape == (5, 28, 28)
    held = _held(30)
    np.testing.assert_array_equal(gx, x[~held])  # the file's order kept in each part
    np.testing.assert_array_equal(gy, y[~held])
    np.testing.assert_array_equal(vx, x[held])
    np.testing.assert_array_equal(vy, y[held])
    rx, _ = data.load_mnist("test", data_dir=tmp_path / "d2", allow_download=False)
    np.testing.assert_array_equal(rx, x[:10])


def test_search_order_data_dir_then_env_then_cache(isolated_data, tmp_path, monkeypatch):
    for i, root in enumerate([tmp_path / "arg", tmp_path / "env", isolated_data]):
        x, y = fake_split(5 + i, seed=i)
        write_split(root / "mnist", "test", x, y)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "env"))
    assert len(data.load_mnist("test", data_dir=tmp_path / "arg", allow_download=False)[0]) == 5
    assert len(data.load_mnist("test", allow_download=False)[0]) == 6
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert len(data.load_mnist("test", allow_download=False)[0]) == 7


def test_fashion_uses_its_own_subfolder_and_system_dir(isolated_data, tmp_path, monkeypatch):
    x, y = fake_split(8)
    write_split(tmp_path / "sys", "test", x, y)  # a system dir holds the files directly
    monkeypatch.setattr(data, "SYSTEM_DIRS", {"digits": [], "fashion": [tmp_path / "sys"]})
    fx, _ = data.load_mnist("test", kind="fashion", allow_download=False)
    assert len(fx) == 8
    with pytest.raises(data.DatasetUnavailable):
        data.load_mnist("test", kind="digits", allow_download=False)


def test_offline_error_lists_places_and_fix(isolated_data, tmp_path):
    with pytest.raises(data.DatasetUnavailable) as err:
        data.load_mnist("train", data_dir=tmp_path / "nowhere", allow_download=False)
    msg = str(err.value)
    assert str(tmp_path / "nowhere" / "mnist") in msg
    assert str(isolated_data / "mnist") in msg
    assert "COURSE_DATA_DIR" in msg
    assert isinstance(err.value, FileNotFoundError)


@pytest.mark.parametrize("split,kind", [("valid", "digits"), ("train", "kmnist")])
def test_bad_arguments(isolated_data, split, kind):
    with pytest.raises(ValueError):
        data.load_mnist(split, kind=kind, allow_download=False)


def _write_images_raw(folder: Path, raw: bytes, labels_n: int = 3, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("train-images-idx3-ubyte.gz" if gz else "train-images-idx3-ubyte")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros(labels_n, np.uint8)))
    )
    return path


def test_corrupt_bad_magic(isolated_data, tmp_path):
    raw = b"\x12\x34\x08\x03" + idx_bytes(np.zeros((3, 28, 28), np.uint8))[4:]
    path = _write_images_raw(tmp_path / "mnist", raw)
    with pytest.raises(data.CorruptDataError, match="magic") as err:
        data.load_mnist("train", data_dir=tmp_path, allow_download=False)
    assert str(path) in str(err.value)
    assert isinstance(err.value, data.DataError)  # one except clause catches every dataset error


def test_corrupt_dimensions_disagree_with_length(isolated_data, tmp_path):
    raw = idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-100]
    path = _write_images_raw(tmp_path / "mnist", raw, gz=False)
    with pytest.raises(data.CorruptDataError, match="truncated") as err:
        data.load_mnist("train", data_dir=tmp_path, allow_download=False)
    assert str(path) in str(err.value)


def test_corrupt_truncated_gzip(isolated_data, tmp_path):
    folder = tmp_path / "mnist"
    _write_images_raw(folder, idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(data.CorruptDataError, match="decompressed") as err:
        data.load_mnist("train", data_dir=tmp_path, allow_download=False)
    assert str(path) in str(err.value)


def test_corrupt_count_mismatch(isolated_data, tmp_path):
    _write_images_raw(tmp_path / "mnist", idx_bytes(np.zeros((3, 28, 28), np.uint8)), labels_n=4)
    with pytest.raises(data.CorruptDataError, match=r"3 images but .* 4 labels"):
        data.load_mnist("train", data_dir=tmp_path, allow_download=False)


def test_corrupt_wrong_rank_and_size(isolated_data, tmp_path):
    _write_images_raw(tmp_path / "a" / "mnist", idx_bytes(np.zeros((3, 784), np.uint8)))
    with pytest.raises(data.CorruptDataError, match="rank 2, expected 3"):
        data.load_mnist("train", data_dir=tmp_path / "a", allow_download=False)
    _write_images_raw(tmp_path / "b" / "mnist", idx_bytes(np.zeros((3, 32, 32), np.uint8)))
    with pytest.raises(data.CorruptDataError, match="28×28"):
        data.load_mnist("train", data_dir=tmp_path / "b", allow_download=False)


def test_read_idx_roundtrip(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "x").write_bytes(idx_bytes(arr))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "x"), arr)


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="offline fixture ../shared/data not present")
def test_offline_fixture_loads_despite_noncanonical_checksums(isolated_data):
    x, y = data.load_mnist("train", data_dir=SHARED, allow_download=False)
    vx, _ = data.load_mnist("validation", data_dir=SHARED, allow_download=False)
    tx, ty = data.load_mnist("test", data_dir=SHARED, allow_download=False)
    assert x.shape == (6667, 28, 28) and vx.shape == (1333, 28, 28) and tx.shape == (2000, 28, 28)
    assert set(np.unique(y)) == set(range(10)) and ty.max() == 9
    assert 30 < x.mean() < 40  # MNIST's mean pixel is about 33


def test_to_float_ranges():
    x = np.array([[0, 255], [51, 204]], np.uint8)
    u = data.to_float(x)
    s = data.to_float(x, "symmetric")
    assert u.dtype == np.float32 and u.min() == 0.0 and u.max() == 1.0
    assert s.min() == -1.0 and s.max() == 1.0
    np.testing.assert_allclose(s, 2 * u - 1)
    with pytest.raises(ValueError):
        data.to_float(u)
    with pytest.raises(ValueError):
        data.to_float(x, "percent")


def test_binarize_threshold_and_stochastic():
    x = np.full((20000,), 64, np.uint8)  # intensity 0.251
    assert data.binarize(x).sum() == 0
    assert data.binarize(x, threshold=0.2).sum() == x.size
    b = data.binarize(x, "stochastic", seed=0)
    assert set(np.unique(b)) <= {0.0, 1.0}
    # Bernoulli(0.251): mean within 4 standard errors
    assert abs(b.mean() - 64 / 255) < 4 * np.sqrt(0.25 * 0.75 / x.size)
    np.testing.assert_array_equal(b, data.binarize(x, "stochastic", seed=0))
    with pytest.raises(ValueError):
        data.binarize(np.array([1.5]))
    with pytest.raises(ValueError):
        data.binarize(x, "median")


def test_torch_loader_batches_and_order():
    x, y = fake_split(10)
    loader = data.to_torch_loader(x, y, batch_size=4, shuffle=False)
    batches = list(loader)
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(batches[0][1].numpy(), y[:4])
    single = list(data.to_torch_loader(x, batch_size=5, shuffle=True, seed=1))
    assert len(single) == 2 and tuple(single[0].shape) == (5, 28, 28)
    again = list(data.to_torch_loader(x, batch_size=5, shuffle=True, seed=1))
    assert all((a == b).all() for a, b in zip(single, again))
    with pytest.raises(ValueError):
        data.to_torch_loader(x, y[:3])
    with pytest.raises(TypeError, match="batchsize"):  # a misspelt option is named, not ignored
        data.to_torch_loader(x, batchsize=4)


def test_tf_dataset_batches():
    x, y = fake_split(10)
    ds = data.to_tf_dataset(x, y, batch_size=4, shuffle=False)
    batches = list(ds)
    assert [int(b[0].shape[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(batches[-1][1].numpy(), y[8:])
    assert [int(b.shape[0]) for b in data.to_tf_dataset(x, batch_size=4, drop_last=True)] == [4, 4]
    with pytest.raises(TypeError, match="shufle"):
        data.to_tf_dataset(x, shufle=False)

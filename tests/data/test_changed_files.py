"""A file that changes after the data scan (swapped for a pixel bomb,
corrupted, deleted) is checked again when the pipeline reads it: skipped
from its batch, counted and warned about once; never decoded past the
pixel limit, never an exception."""

import os

import numpy as np
import pytest

from kzoo.data import batched, fixmatch_batches, load_data
from kzoo.data.images import MAX_IMAGE_PIXELS, NOT_DECODABLE, OVER_PIXEL_LIMIT
from kzoo.run import inputs
from kzoo.testing import make_image_folder
from tests.data.helpers import png_declaring, write_bytes
from tests.run.helpers import kzoo, read_json
from tests.training.helpers import replica_strategy

BOMB = OVER_PIXEL_LIMIT.format(20000, 20000, MAX_IMAGE_PIXELS)
FAST_FLAGS = ["--no-jit-compile", "--steps-per-execution", "1"]


def _same(images):
    return images


@pytest.fixture
def data_and_pool(tmp_path):
    """`load_data` of 2 classes x 4 labelled and 6 unlabeled/ files, and the
    paths of the pool files in pool order."""
    root = make_image_folder(str(tmp_path / "ds"), classes=("a", "b"), per_class=4,
                             size=8, unlabeled=6)
    data = load_data(root, image_size=(8, 8), val_fraction=0, test_fraction=0.25)
    folder = os.path.join(root, "unlabeled", "batch1")
    pool = [os.path.join(folder, f"u{i}.png") for i in range(6)]
    assert data.counts["unlabeled"] == 6 and data.skipped_files == []
    return data, pool


def _pool_indices(data, cache, passes, between=None):
    """The pool indices of `passes` passes of FixMatch batches (3 of 2 a pass);
    `between()` runs after the first pass."""
    ds = fixmatch_batches(data.train, data.unlabeled, 1, 2, weak=_same, strong=_same,
                          seed=0, cache_unlabeled=cache)
    it = iter(ds)
    seen = []
    for p in range(passes):
        if p == 1 and between is not None:
            between()
        batches = [next(it)[0] for _ in range(3)]
        for x in batches:
            assert not np.isnan(x["weak"].numpy()).any()
            assert len(x["weak"]) == len(x["unlabeled_index"])
        seen.append(sorted(i for x in batches for i in x["unlabeled_index"].numpy()))
    return seen


@pytest.mark.large
@pytest.mark.parametrize("cache", [False, True])
def test_a_pool_file_swapped_for_a_pixel_bomb_is_skipped_undecoded(
        data_and_pool, capsys, cache):
    data, pool = data_and_pool
    write_bytes(pool[2], png_declaring(20000, 20000))  # after the scan
    seen = _pool_indices(data, cache, passes=3)
    assert seen == [[0, 1, 3, 4, 5]] * 3  # dropped from its batch, every pass
    # The reason is the header's: it was refused before any decoding.
    assert data.skipped_files == [pool[2]]
    assert data.skipped_reasons == {pool[2]: BOMB}
    warnings = [line for line in capsys.readouterr().err.splitlines()
                if line.startswith("warning:")]
    line = f"warning: {pool[2]}: {BOMB} (it changed after the data scan; skipped)"
    assert warnings == [line]  # once, though read every pass


@pytest.mark.parametrize("cache", [False, True])
def test_a_pool_file_deleted_or_corrupted_mid_run_is_skipped_and_counted(
        data_and_pool, cache):
    data, pool = data_and_pool

    def damage():
        os.remove(pool[1])
        write_bytes(pool[4], b"\x89PNG\r\n\x1a\n no longer an image")

    seen = _pool_indices(data, cache, passes=6, between=damage)
    assert seen[0] == list(range(6))
    # A cached pool was decoded in the first pass and is not read again.
    after = list(range(6)) if cache else [0, 2, 3, 5]
    # The pipeline reads ahead (prefetch, of a depth tf.data tunes), so the
    # passes next to the damage may hold batches read before it, in any
    # mix: they lose nothing but the damaged files. The last passes were
    # read after it.
    assert all(set(after) <= set(s) <= set(range(6)) for s in seen[1:4])
    assert seen[4:] == [after] * 2
    assert data.skipped_reasons == ({} if cache else {
        pool[1]: NOT_DECODABLE, pool[4]: NOT_DECODABLE})


@pytest.mark.large
def test_a_labelled_file_that_changed_is_dropped_from_its_batch(data_and_pool):
    data, _ = data_and_pool
    files = [p for p in data.test_items.paths]  # the test split's 2 files
    write_bytes(files[0], png_declaring(20000, 20000))
    os.remove(files[1])
    batches = list(batched(data.test, 4).as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [0]  # one pass, one (empty) batch
    assert data.skipped_reasons == {files[0]: BOMB, files[1]: NOT_DECODABLE}
    train = batched(data.train, 4, training=True, seed=0, repeat=True)
    labels = np.concatenate([y for _, y in train.take(4).as_numpy_iterator()])
    assert sorted(labels.tolist()) == [0] * 3 * 2 + [1] * 3 * 2  # untouched


@pytest.mark.large
@pytest.mark.parametrize("strategy", ["default", "mirrored"])
def test_kzoo_fixmatch_trains_on_when_pool_files_change_after_the_scan(
        tmp_path, monkeypatch, capsys, strategy):
    root = make_image_folder(str(tmp_path / "ds"), classes=("a", "b"), per_class=4,
                             size=8, unlabeled=12)
    pool = os.path.join(root, "unlabeled", "batch1")
    real_load = inputs.load_data

    def load_then_change(*args, **kwargs):
        data = real_load(*args, **kwargs)
        os.remove(os.path.join(pool, "u3.png"))
        write_bytes(os.path.join(pool, "u7.png"), png_declaring(20000, 20000))
        return data

    monkeypatch.setattr(inputs, "load_data", load_then_change)
    if strategy == "mirrored":
        replica_strategy()
    out = str(tmp_path / "fm")
    code, printed, err = kzoo(
        capsys, "fixmatch", "--data", root, "--no-cache-pool", "--epochs", 2,
        "--batch-size", 2, "--ratio", 2, "--input-size", 32, "--check-every", 1,
        "--strategy", strategy, "--out", out, *FAST_FLAGS)
    assert code == 0, err
    assert "skipped files: 0" in printed  # the scan saw them unchanged
    assert sorted(line.split(": ")[1] for line in err.splitlines()
                  if line.startswith("warning:")) == [
        os.path.join(pool, "u3.png"), os.path.join(pool, "u7.png")]
    metrics = read_json(out, "metrics.json")  # counted where the run reports
    assert metrics["skipped_files"] == 2
    assert sorted(metrics["skipped_file_paths"]) == [
        os.path.join(pool, "u3.png"), os.path.join(pool, "u7.png")]

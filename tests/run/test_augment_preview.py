"""`kzoo augment-preview`: a PNG grid of originals and augmented draws."""

import io
import os
import stat

import numpy as np
from PIL import Image

from kzoo import run
from kzoo.augment import DEFAULT_POLICY
from kzoo.run.tensorboard import label_text
from tests.run.helpers import kzoo, one_error_line
from tests.user_files import character_device, read_in_thread


def test_preview_writes_a_grid_png(tmp_path, capsys):
    out = str(tmp_path / "grid.png")
    policy = "crop,randaugment(n=2,m=9),mixup"
    capsys.readouterr()
    result = run.run("augment-preview", augment=policy, images=3, draws=2, out=out)
    assert "wrote" in capsys.readouterr().out
    assert result.out == out
    assert result.report == {"images": 3, "draws": 2, "policy": policy}
    pixels = np.asarray(Image.open(out))
    assert pixels.shape[0] > 200 and pixels.shape[1] > 200 and pixels.std() > 10


def test_preview_smoke_is_two_images_by_two_draws(tmp_path):
    result = run.run("augment-preview", smoke=True, out=str(tmp_path / "g.png"))
    assert (result.report["images"], result.report["draws"]) == (2, 2)
    assert result.report["policy"] == DEFAULT_POLICY  # --augment default


def test_preview_refuses_an_unknown_augmentation(tmp_path, capsys):
    out = tmp_path / "grid.png"
    code, _, err = kzoo(capsys, "augment-preview", "--augment", "crop,blur",
                        "--out", out)
    assert code == 2
    assert "unknown augmentation 'blur'" in one_error_line(err)
    assert not out.exists()


def test_preview_label_text():
    names = ["cat", "dog", "eel"]
    assert label_text(np.array([0.0, 1.0, 0.0]), names) == "dog"
    assert label_text(np.array([0.3, 0.7, 0.0]), names) == "dog 0.70 / cat 0.30"


def test_preview_out_a_pipe_a_device_or_a_user_s_file(tmp_path):
    fifo = tmp_path / "pipe"  # no extension: PNG
    os.mkfifo(fifo)
    join = read_in_thread(fifo)
    try:
        run.run("augment-preview", smoke=True, out=str(fifo))
    finally:
        got = join()
    assert Image.open(io.BytesIO(got)).format == "PNG"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    null = character_device(tmp_path)  # /dev/null (as root, a node of it)
    run.run("augment-preview", smoke=True, out=null)
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    mine = tmp_path / "grid.png"
    mine.write_bytes(b"")
    os.chmod(mine, 0o600)
    run.run("augment-preview", smoke=True, out=str(mine))
    assert Image.open(mine).format == "PNG"
    assert stat.S_IMODE(os.stat(mine).st_mode) == 0o600


def test_preview_refuses_an_out_it_cannot_write_before_reading(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    for out, expected in [
            (tmp_path / "afile" / "g.png", f"{tmp_path / 'afile'} is not a folder"),
            (tmp_path, "it is a folder"),
            (tmp_path / "g.csv", "--out must end in an image format")]:
        code, printed, err = kzoo(capsys, "augment-preview", "--out", out)
        assert code == 2 and printed == ""
        assert expected in one_error_line(err)
    assert os.listdir(tmp_path) == ["afile"]

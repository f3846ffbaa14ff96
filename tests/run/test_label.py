"""`kzoo label`: one line per error before anything is served or written,
and a --smoke run that serves the queue and answers the page's request."""

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from tests.labeling.helpers import data_folder, files
from tests.run.helpers import kzoo


def test_smoke_serves_the_queue_and_says_where_to_go(tmp_path, capsys):
    root, queue = data_folder(tmp_path / "d")
    code, out, err = kzoo(capsys, "label", "--data", root, "--queue", queue,
                          "--port", "0", "--smoke")
    assert code == 0, err
    assert "label: 4 of 4 images to label (0 done); classes: cat, dog" in out
    assert "open http://127.0.0.1:" in out and "/?token=" in out
    assert "smoke: GET /api/queue answered 4 images to label" in out


def test_errors_come_before_anything_is_served_or_written(tmp_path, capsys):
    root, queue = data_folder(tmp_path / "d", classes=())
    before = files(root)
    cases = [
        ([], "Give --queue FILE.csv"),
        (["--queue", queue, "--review", queue], "one of them"),
        (["--queue", str(tmp_path / "none.csv")], "Cannot read the queue"),
        (["--queue", queue], "No classes to offer"),
        (["--queue", os.path.join(root, "unlabeled", "u0.png")], "'path' column"),
        (["--queue", queue, "--classes", "a/b"], "class name"),
    ]
    for argv, message in cases:
        code, out, err = kzoo(capsys, "label", "--data", root, *argv, "--smoke")
        assert code != 0 and message in err, (argv, err)
        assert "open http" not in out
    code, _, err = kzoo(capsys, "label", "--data", str(tmp_path / "nothing"),
                        "--queue", queue, "--classes", "a", "--smoke")
    assert code != 0 and "--data must be the data folder" in err
    assert files(root) == before
    assert not os.path.exists(os.path.join(root, "labels.csv"))


def test_a_port_in_use_is_a_clear_error(tmp_path, capsys):
    root, queue = data_folder(tmp_path / "d")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = kzoo(capsys, "label", "--data", root, "--queue", queue,
                            "--port", str(port), "--smoke")
    assert code != 0 and f"Port {port} is in use" in err and "--port 0" in err


@pytest.mark.large
def test_the_served_page_labels_and_sigterm_stops_it_cleanly(tmp_path):
    """The installed command as a user runs it: it prints the URL, a label
    through the API moves the file, and `kill` (SIGTERM) stops it with its
    closing count, as Ctrl+C does."""
    root, queue = data_folder(tmp_path / "d")
    process = subprocess.Popen(
        [sys.executable, "-m", "kzoo", "label", "--data", root, "--queue", queue,
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("open http"):
                break
        url = lines[-1].split()[1]
        base, token = url.split("/?token=")
        request = urllib.request.Request(
            base + "/api/label", method="POST",
            data=json.dumps({"path": "unlabeled/u2.png", "label": "dog"}).encode(),
            headers={"Authorization": f"Bearer {token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.load(answer)["queue"]["labelled"] == 1
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "label: 1 of 4 done" in rest
    assert os.path.isfile(os.path.join(root, "train", "dog", "u2.png"))

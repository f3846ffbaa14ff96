"""A small data folder and queue to label, and HTTP requests to a server."""

import csv
import json
import os
import threading
import urllib.error
import urllib.request

import numpy as np
from PIL import Image

from kzoo.labeling import LabelServer, LabelStore


def data_folder(root, unlabelled=4, classes=("cat", "dog"), size=8):
    """`root/train/<class>/` (one image each) and `root/unlabeled/u<i>.png`,
    with a queue CSV of the unlabelled images as kzoo select writes it
    (paths as given to it: here absolute). Returns `(root, queue)`."""
    rng = np.random.default_rng(0)
    for name in classes:
        os.makedirs(os.path.join(root, "train", name))
        _png(os.path.join(root, "train", name, "a.png"), rng, size)
    os.makedirs(os.path.join(root, "unlabeled"))
    paths = []
    for i in range(unlabelled):
        paths.append(os.path.join(root, "unlabeled", f"u{i}.png"))
        _png(paths[-1], rng, size)
    queue = os.path.join(os.path.dirname(root), "queue.csv")
    write_queue(queue, paths)
    return str(root), queue


def write_queue(path, paths, **columns):
    with open(path, "w", newline="") as f:
        table = csv.writer(f)
        table.writerow(["path", "rank", *columns])
        for i, p in enumerate(paths):
            table.writerow([p, i + 1, *(columns[c][i] for c in columns)])


def _png(path, rng, size):
    Image.fromarray(rng.integers(0, 255, (size, size, 3), np.uint8)).save(path)


def files(root):
    """Every file under `root` but the log, relative to it, sorted."""
    out = []
    for folder, _, names in os.walk(root):
        out += [os.path.relpath(os.path.join(folder, n), root) for n in names]
    return sorted(p for p in out if p != "labels.csv"
                  and not os.path.basename(p).startswith(".labels"))


def log_rows(root):
    with open(os.path.join(root, "labels.csv"), newline="") as f:
        return list(csv.DictReader(f))


class Served:
    """A `LabelServer` of `LabelStore(*args)` on a free port, in a thread."""

    def __init__(self, *args, **kwargs):
        self.store = LabelStore(*args, **kwargs)
        self.server = LabelServer(self.store)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def request(self, method, path, body=None, token=True, headers=None):
        """`(status, parsed JSON or bytes)`; `token`: True (the server's, as a
        Bearer header), a string sent instead, or None (none)."""
        sent = dict(headers or {})
        if token is True:
            sent["Authorization"] = f"Bearer {self.server.token}"
        elif token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.server.port}{path}", data=data,
            method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, _parsed(answer)
        except urllib.error.HTTPError as err:
            return err.code, _parsed(err)


def _parsed(answer):
    data = answer.read()
    if answer.headers.get("Content-Type") == "application/json":
        return json.loads(data)
    return data

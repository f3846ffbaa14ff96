"""Near-duplicate images given different labels: one of the two is wrong
(or the classes cannot be told apart from the image)."""

import numpy as np

DEFAULT_THRESHOLD = 0.98
CHUNK = 1024  # rows of the similarity matrix computed at once


def cross_class_duplicates(embeddings, labels, threshold=DEFAULT_THRESHOLD):
    """Pairs of images at cosine similarity >= `threshold` whose labels
    differ, most similar first.

    Args:
        embeddings: `[N, D]` image vectors (normalised here).
        labels: `[N]` given labels.
        threshold: The least cosine similarity of a near-duplicate.

    Returns:
        `(pairs [M, 2] int, similarities [M])`, `i < j` in each pair.
    """
    x = np.asarray(embeddings, np.float32)
    y = np.asarray(labels).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"Expected embeddings [N, D] and labels [N]. "
                         f"Received: shapes {x.shape} and {y.shape}")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    pairs, scores = [], []
    for start in range(0, len(x), CHUNK):
        block = x[start:start + CHUNK] @ x.T
        rows, cols = np.nonzero(block >= threshold)
        rows = rows + start
        keep = (rows < cols) & (y[rows] != y[cols])
        pairs.append(np.stack([rows[keep], cols[keep]], axis=1))
        scores.append(block[rows[keep] - start, cols[keep]])
    pairs = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
    scores = np.concatenate(scores) if scores else np.zeros(0, np.float32)
    order = np.argsort(-scores, kind="stable")
    return pairs[order].astype(np.int64), scores[order]

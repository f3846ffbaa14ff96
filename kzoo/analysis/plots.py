"""PNG plots: confusion matrices and perceptron weight templates."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

from kzoo.outputs import atomic_path  # noqa: E402


def save_figure(fig, path):
    """`fig.savefig(path)`, replacing `path` atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)  # the format from the extension, kept


def plot_confusion_matrix(confusion, class_names, path, title="Confusion matrix"):
    """Write a confusion matrix (rows = true class) as a PNG."""
    cm = np.asarray(confusion)
    size = max(4.0, 0.5 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=90)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = cm.max() / 2 if cm.size else 0
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                color="white" if v > threshold else "black")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_weight_templates(model, path, class_names=None, layer_name="predictions"):
    """Render a perceptron's per-class weight templates as a PNG grid.

    Each class's kernel column is reshaped to the input image and scaled to
    its own min-max range: the "mean image" each class is matched against.

    Args:
        model: A model whose `layer_name` Dense layer sees the flattened image
            (e.g. `kzoo.models.perceptron`).
        path: Output PNG path.
        class_names: Optional titles.
        layer_name: Name of the Dense layer.

    Returns:
        The templates as a float array `[num_classes, H, W, C]` in [0, 1].
    """
    kernel = np.asarray(model.get_layer(layer_name).kernel)
    shape = tuple(model.input_shape[1:])
    if kernel.shape[0] != int(np.prod(shape)):
        raise ValueError(
            f"Layer '{layer_name}' does not see the flattened input "
            f"{shape}. Received: kernel shape {kernel.shape}"
        )
    templates = kernel.T.reshape((-1,) + shape)
    lo = templates.min(axis=(1, 2, 3), keepdims=True)
    hi = templates.max(axis=(1, 2, 3), keepdims=True)
    templates = (templates - lo) / np.maximum(hi - lo, 1e-12)
    n = len(templates)
    cols = min(n, 10)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.7 * rows),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = templates[i]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray")
            ax.set_title(class_names[i] if class_names else str(i), fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return templates


def plot_search_heatmap(trials, path, value_key="val_accuracy"):
    """Heat map of search trials: rows N, columns M, cells the score.

    Args:
        trials: Dicts with "n", "m" and `value_key` (missing when the trial
            failed; such cells show "failed").
        path: Output PNG path.
        value_key: Which score to plot.

    Returns:
        The `(len(N values), len(M values))` grid, NaN where nothing ran.
    """
    ns = sorted({t["n"] for t in trials})
    ms = sorted({t["m"] for t in trials})
    grid = np.full((len(ns), len(ms)), np.nan)
    failed = set()
    for t in trials:
        cell = (ns.index(t["n"]), ms.index(t["m"]))
        if value_key in t:
            grid[cell] = t[value_key]
        else:
            failed.add(cell)
    size = (max(4.0, 0.6 * len(ms) + 2), max(2.5, 0.6 * len(ns) + 1.5))
    fig, ax = plt.subplots(figsize=size)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(ms)), ms)
    ax.set_yticks(range(len(ns)), ns)
    ax.set_xlabel("magnitude M")
    ax.set_ylabel("ops per image N")
    ran = grid[~np.isnan(grid)]
    middle = (ran.min() + ran.max()) / 2 if ran.size else 0.0
    for (i, j), v in np.ndenumerate(grid):
        text = "failed" if (i, j) in failed else ("" if np.isnan(v) else f"{v:.3f}")
        color = "black" if (i, j) in failed or v > middle else "white"
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    if trials and not np.isnan(grid).all():
        fig.colorbar(image, ax=ax, label=value_key)
    ax.set_title("RandAugment search")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return grid


def plot_lines(series, path, xlabel, ylabel, title, xscale="linear"):
    """Line plot of named series, with error bars where given, as a PNG.

    Args:
        series: Dict of label -> `(x, y)` or `(x, y, spread)`; `None` values
            in `y` are left out.
        path: Output PNG path.
        xlabel, ylabel, title: Axis labels and title.
        xscale: `"linear"` or `"log"`.

    Returns:
        Dict of label -> `(x, y, spread)` as plotted (None values left out).
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plotted = {}
    for label, values in series.items():
        x, y = values[0], values[1]
        spread = values[2] if len(values) > 2 else None
        keep = [i for i, v in enumerate(y) if v is not None]
        xs = [x[i] for i in keep]
        ys = [y[i] for i in keep]
        errs = None if spread is None else [spread[i] or 0.0 for i in keep]
        ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=label)
        plotted[label] = (xs, ys, errs)
    ax.set_xscale(xscale)
    if xscale == "linear":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return plotted


def contact_sheet(images, captions, path, title, columns=10):
    """Images (0-255, `[N, H, W, C]`) tiled in rows of `columns`, each
    with its caption below (two short lines), written as a PNG.

    One axes for the whole sheet (a subplot per image costs ten times as
    much); grey images are drawn grey.
    """
    images = np.asarray(images, np.float32)
    n, height, width, channels = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    pad, caption = 4, max(12, height // 2)
    cell_h, cell_w = height + caption + pad, width + pad
    sheet = np.full((rows * cell_h + pad, columns * cell_w + pad, channels), 255,
                    np.uint8)
    scale = max(1.0, 96.0 / max(height, width))  # small images drawn larger
    fig = plt.figure(figsize=(max(4.0, columns * cell_w * scale / 80),
                              rows * cell_h * scale / 80 + 0.5))
    ax = fig.add_axes((0, 0, 1, 1 - 0.4 / fig.get_figheight()))
    for i, (image, text) in enumerate(zip(images, captions)):
        top, left = (i // columns) * cell_h + pad, (i % columns) * cell_w + pad
        sheet[top:top + height, left:left + width] = np.clip(image, 0, 255)
        ax.text(left + width / 2, top + height + 1, text, ha="center", va="top",
                fontsize=6, linespacing=1.0)
    grey = channels == 1
    ax.imshow(sheet[..., 0] if grey else sheet, cmap="gray" if grey else None,
              vmin=0, vmax=255, interpolation="nearest")
    ax.axis("off")
    fig.suptitle(title, fontsize=8)
    save_figure(fig, path)
    plt.close(fig)

"""`kzoo label`: its options and description (TensorFlow-free; the run
is `kzoo.run.label.label`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    Opt,
    command,
)

COMMAND = command(
    "label", "label images in the browser: kzoo select's queue, kzoo audit's review",
    """Label images in the browser, one at a time, on this machine.

  kzoo label --data photos/ --queue to_label.csv
  kzoo label --data photos/ --review audit.csv

Serves a page on 127.0.0.1 (open the URL it prints: it carries a random
token every request must send) that shows each image of --queue (a kzoo
select CSV) with a button per class (keys 1-9, then a-z), skip (Space),
undo (Backspace) and how many are done. A label moves the image (or copies
it, --copy) into --data/train/<class>/, never over another file (a name
clash gets -1, -2, ...), and appends a row to --data/labels.csv (time,
action, path, from, to, label); undo puts it back. Classes are --classes,
then the folders of --data/train/; a new one can be added on the page.
--review FILE.csv (kzoo audit's --out) shows the likely label errors to
keep or relabel instead. Stop with Ctrl+C: every label is already on disk,
and the same command continues where the queue stands.""",
    "kzoo.run.label:label",
    Opt("data", required=True,
      help="the data folder: labelled images go to DATA/train/<class>/"),
    Opt("queue", help="CSV of the images to label (kzoo select's --out)"),
    Opt("review", help="CSV of likely label errors to review (kzoo audit's "
                       "--out), instead of --queue"),
    Opt("classes", type=t.name_list,
      help="classes to offer first (default: the folders of DATA/train/)"),
    Opt("copy", False, kind="switch",
      help="copy images into train/<class>/ (default: move them)"),
    Opt("port", type=t.port,
      help="port on 127.0.0.1 (default: 8765 or the next free one; 0: any)"),
    Opt("smoke", False, kind="switch",
      help="start, answer the page's first request, stop"),
)

"""What a technique returns."""

import dataclasses


@dataclasses.dataclass
class RunResult:
    """The outcome of one run.

    Attributes:
        command: The technique (`train`, `noisy-student`, ...).
        out: The folder it wrote (`--out`, or `--out/smoke`).
        metrics: The final model's test metrics (`metrics.json`), or the
            command's own numbers where it trains nothing.
        saved_model: The exported SavedModel version folder, if any.
        report: The technique's own report (rounds, table, trials), as
            written to its JSON file.
        model: The trained (served) `keras.Model`, if any; not serialised.
    """

    command: str
    out: str = None
    metrics: dict = None
    saved_model: str = None
    report: dict = None
    model: object = dataclasses.field(default=None, repr=False)

    @property
    def test_accuracy(self):
        return (self.metrics or {}).get("test_accuracy")

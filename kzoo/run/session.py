"""A run's session: its strategy scope, seed, precision and output folder.

Every technique runs inside `session(config)`: the `--strategy` scope with
`--deterministic` and `--mixed-precision` applied (restored at exit), and a
`Session` that hands out output folders — checked writable, locked (one run
per folder at a time) and claimed for this run's settings before anything
else is written — and keeps the backups of the run's `fit` calls until the
run has written everything: a run killed after training (in the test, the
plots, the export) is finished by the same command without training again.
"""

import contextlib
import contextvars
import json
import os
import shutil

from kzoo import runtime
from kzoo.outputs import OutputLock, write_json
from kzoo.run import progress
from kzoo.training.callbacks import check_same_settings

SMOKE_DIR = "smoke"
# In --out while a run is in progress (kept if it is interrupted): the
# settings of the run, so that a run with other flags is refused before it
# writes or retrains anything.
RUN_MARKER = ".kzoo-run.json"
# Options that do not change what a run computes, so a backup resumes across
# them: how it was started (--fresh, a --config file or the same flags) and
# where it writes (the backup lives there).
NOT_IN_BACKUP_CONFIG = ("fresh", "config", "out")


def run_dir(out, smoke):
    """Where a run given `--out out` writes: `out`, or `out/smoke` for a
    `--smoke` run, so that a wiring check never overwrites a real run's
    files nor adds a version folder that TF Serving, watching `out`, would
    serve (it only loads numbered folders)."""
    return os.path.join(out, SMOKE_DIR) if smoke else out


def backup_config(config, **plan):
    """What a backup records of its run, and a resumed run must match."""
    values = {k: v for k, v in config.to_dict().items()
              if k not in NOT_IN_BACKUP_CONFIG}
    return dict(values, **plan)


_CURRENT = contextvars.ContextVar("kzoo_session", default=None)


def current():
    """The `Session` the caller runs in (None outside `session(...)`)."""
    return _CURRENT.get()


class Session:
    """One run under its strategy: where this process writes, and the
    backups it keeps until it has written everything.

    The backups of the run's `fit` calls (`kzoo.run.fitting.fit` hands
    them in with `keep_backup`) outlive their `fit`: a run killed after
    training (scoring, plotting, exporting, or between two phases) leaves
    them complete, and the same command restores the finished weights and
    goes on from there. They are removed when the run succeeds, before its
    run marker (`release_backups` removes those under a folder earlier,
    once what they fed is recorded, e.g. a search's trial).
    """

    def __init__(self, strategy, config):
        self.strategy = strategy
        self.config = config
        self.scratch = []
        self.locks = []
        self.markers = []
        self.backups = []

    def output_dir(self, out):
        """`run_dir(out)` on the chief; a scratch folder of it (removed when
        the run succeeds) on the other workers. Checked writable, locked (one
        run at a time) and claimed for this run's settings now, before
        anything else is written.

        Raises:
            KzooError: Not writable, in use, or holding an interrupted run
                with other settings (without --fresh).
        """
        out = run_dir(out, self.config.get("smoke", False))
        path = runtime.worker_dir(out, self.strategy)
        runtime.check_output_dir(path)
        self.locks.append(OutputLock(path))
        self._claim(path)
        if path != out:
            self.scratch.append(path)
        return path

    def _claim(self, path):
        marker = os.path.join(path, RUN_MARKER)
        config = backup_config(self.config)
        if os.path.exists(marker) and not self.config.get("fresh"):
            with open(marker) as f:
                recorded = json.load(f)["config"]
            check_same_settings(recorded, config, f"The interrupted run in {path}")
        write_json(marker, {"kzoo_run": 1, "config": config})
        self.markers.append(marker)

    def keep_backup(self, backup):
        """Keep `backup` (a `BackupAndRestore` made with `keep=True`) until
        the run succeeds."""
        self.backups.append(backup)

    def release_backups(self, folder):
        """Remove the kept backups under `folder` now: what they trained is
        recorded (a search's trial), nothing will restore them."""
        folder = os.path.join(os.path.abspath(folder), "")
        for backup in list(self.backups):
            if os.path.abspath(backup.backup_dir).startswith(folder):
                backup.remove()
                self.backups.remove(backup)

    def close(self, succeeded):
        try:
            if succeeded:
                # The outputs are complete: the backups go, then the marker
                # (a kill in between retrains a finished run, never loses one).
                for backup in self.backups:
                    backup.remove()
                for marker in self.markers:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(marker)
        finally:
            for lock in self.locks:
                lock.release()


@contextlib.contextmanager
def session(config):
    """Enter --strategy's scope with --deterministic and --mixed-precision
    applied (the dtype policy is restored at exit); yields a `Session`.

    Raises:
        KzooError: --export names a format whose package is missing (before
            anything trains or is written).
    """
    if config.get("export"):
        from kzoo.export.portable import check_dependencies

        check_dependencies(config.export)
    with runtime.run_scope(config.strategy, config.mixed_precision,
                           config.deterministic, config.seed) as strategy:
        replicas = strategy.num_replicas_in_sync
        if replicas > 1:
            progress.say(
                f"strategy {config.strategy}: {replicas} replicas "
                f"({runtime.task_name(strategy)}); global batch "
                f"{config.batch_size}, about {config.batch_size / replicas:g} "
                "per replica")
        run = Session(strategy, config)
        token = _CURRENT.set(run)
        succeeded = False
        try:
            yield run
            succeeded = True
        finally:
            _CURRENT.reset(token)
            run.close(succeeded)
    for path in run.scratch:
        shutil.rmtree(path, ignore_errors=True)

"""Running another technique from inside a run: through the public entry
(`kzoo.run.run`) with explicit options, recorded in its folder so that the
same options later reuse the finished run instead of training again
(`kzoo label-budget`'s cells, `kzoo noisy-student`'s FixMatch teacher)."""

import json
import os

import kzoo.run
from kzoo.outputs import write_json
from kzoo.run import progress


def read_record(path):
    """The record at `path`, or {} (none yet, or unreadable: run again)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def run_recorded(command, options, record, fresh=False, upgrade=None):
    """Run `command` with `options` unless `record` (a JSON file) says the
    same command and options finished before.

    Args:
        command: A command name (`"fixmatch"`, ...).
        options: Its options, every one explicit (what the record compares).
        record: Path of the record file.
        fresh: Run again whatever the record says (also discards the run's
            own backups; not part of what is recorded, so the same options
            without it reuse the run afterwards).
        upgrade: Optional function: a record's options as an earlier
            version of kzoo wrote them -> as this one writes them.

    Returns:
        `(record, result)`: the record (`command`, `options`,
        `test_accuracy`, `out`) and the `RunResult`, None when reused.
    """
    recorded = {} if fresh else read_record(record)
    if upgrade is not None and isinstance(recorded.get("options"), dict):
        recorded["options"] = upgrade(recorded["options"])
    if (recorded.get("command") == command and recorded.get("options") == options
            and "test_accuracy" in recorded):
        progress.say(f"reusing {recorded.get('out')} (the same {command} run "
                     "finished before)")
        return recorded, None
    result = kzoo.run.run(command, fresh=fresh, **options)
    recorded = {"command": command, "options": options,
                "test_accuracy": result.test_accuracy, "out": result.out}
    os.makedirs(os.path.dirname(os.path.abspath(record)), exist_ok=True)
    write_json(record, recorded)
    return recorded, result

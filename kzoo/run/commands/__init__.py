"""Every `kzoo` command: one module each, with its options and description
(`COMMAND`, TensorFlow-free) beside the constants its help names; its run
function lives in `kzoo.run.<module>` and is imported only to run.

`COMMANDS` is the table the command line (`kzoo.cli`), `--config` files
and `kzoo.run.configure` are built from, in the order `kzoo --help` lists
them. Adding a command: a module here, listed in `MODULES`, its run
module (see CONTRIBUTING.md).
"""

from kzoo.errors import KzooError
from kzoo.run.commands import (
    audit,
    augment_preview,
    distill,
    evaluate,
    export,
    fixmatch,
    info,
    label,
    label_budget,
    lwf,
    noisy_student,
    predict,
    pretrain,
    pseudo_label,
    search,
    select,
    train,
    transfer,
)

MODULES = (
    train, noisy_student, fixmatch, pseudo_label, distill, lwf, transfer, search,
    label_budget, pretrain, select, label, audit, evaluate, predict, export, info,
    augment_preview,
)
COMMANDS = {module.COMMAND.name: module.COMMAND for module in MODULES}


def get_command(name):
    """The `Command` called `name` (`noisy_student` also finds
    `noisy-student`).

    Raises:
        KzooError: No such command.
    """
    key = name.replace("_", "-")
    if key not in COMMANDS:
        raise KzooError(f"Unknown command. Expected one of {sorted(COMMANDS)}. "
                        f"Received: {name!r}")
    return COMMANDS[key]

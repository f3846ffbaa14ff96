"""How `fit` cuts a run into graph executions and Keras epochs.

A run is `epochs` passes over the training data: `total_steps = epochs *
steps_per_pass` steps, each pass ending with a partial batch (see
`kzoo.data.batched`). Keras runs whole executions of `steps_per_execution`
steps and calls the end-of-epoch work (validation, backup, CSV and
TensorBoard logs, the progress line) once per Keras epoch. With a handful
of labelled images a pass is a few steps, and that work after every pass
costs more than the training (300 passes of 4 steps: 6.9x the time of the
same 1,200 steps in one epoch). So a Keras epoch here is a *check*: a
block of whole executions of at least `check_every` steps (and at least
one pass), and the run does exactly `total_steps` steps:

- the blocks are equal and divide `total_steps`, so the run ends on its
  last step; among the blocks of at least `check_every` steps whose graph
  calls can be at least a quarter of --steps-per-execution, the shortest
  is taken, or one ending on a pass boundary when that is at most twice
  as long (when the only such block is over 4x `check_every`, e.g. a
  prime number of passes, a block is whole passes instead);
- `steps_per_execution` is the divisor of the block nearest the request
  (the smaller of two as near), up to twice the request: 41 steps a pass
  at 30 passes checks every 410 steps in calls of 41 steps, where the
  largest divisor not above a request of 32 would be calls of 10.

A run with a step budget (`plan_steps`, `kzoo fixmatch --steps`) is
`total_steps` steps whatever the size of the data: the same blocks, of at
least `check_every` steps, without the pass boundaries (a pass over a
large unlabelled pool can be thousands of steps).

A pure function of its arguments: a resumed run plans the same blocks.
"""

import dataclasses

CHECK_EVERY = 250  # steps between checks by default (a few seconds on CPU)


@dataclasses.dataclass(frozen=True)
class FitPlan:
    """The step plan of one `fit` call.

    Attributes:
        steps_per_pass: Batches in one pass over the training data.
        passes: Passes of the run (--epochs); with a step budget, the
            passes its steps make (a float).
        steps_per_execution: Steps per graph call.
        steps_per_epoch: Steps per Keras epoch (one check).
        epochs: Keras epochs (checks) of the run.
        budget: The step budget (--steps), or 0: the run is whole passes.
    """

    steps_per_pass: int
    passes: float
    steps_per_execution: int
    steps_per_epoch: int
    epochs: int
    budget: int = 0

    @property
    def total_steps(self):
        return self.budget or self.steps_per_pass * self.passes

    def steps_done(self, epochs_done):
        """Training steps after `epochs_done` Keras epochs."""
        return epochs_done * self.steps_per_epoch

    def passes_done(self, epochs_done):
        """Passes over the data after `epochs_done` Keras epochs (a float
        when a block ends inside a pass)."""
        return self.steps_done(epochs_done) / self.steps_per_pass

    def to_dict(self):
        return dataclasses.asdict(self)


def plan_fit(num_examples, batch_size, passes, steps_per_execution,
             check_every=CHECK_EVERY):
    """The `FitPlan` of `passes` passes over `num_examples` in batches of
    `batch_size` (see the module docstring).

    Raises:
        ValueError: A count below 1.
    """
    _require_counts(num_examples=num_examples, batch_size=batch_size,
                    passes=passes, steps_per_execution=steps_per_execution,
                    check_every=check_every)
    per_pass = -(-num_examples // batch_size)
    total = per_pass * passes
    shortest = min(total, max(per_pass, check_every))
    block, execution = _blocks(total, shortest, steps_per_execution, per_pass)
    if block > 4 * shortest:  # e.g. a prime number of passes: a few at a time
        block = max(per_pass * k for k in divisors(passes)
                    if per_pass * k <= shortest)
        execution = nearest_divisor(block, steps_per_execution)
    return FitPlan(per_pass, passes, execution, block, total // block)


def plan_steps(num_examples, batch_size, total_steps, steps_per_execution,
               check_every=CHECK_EVERY):
    """The `FitPlan` of a step budget: `total_steps` steps over
    `num_examples` in batches of `batch_size`, checked in equal blocks of
    at least `check_every` steps (one block when the budget has no divisor
    between `check_every` and 4x it, e.g. a prime budget).

    Raises:
        ValueError: A count below 1.
    """
    _require_counts(num_examples=num_examples, batch_size=batch_size,
                    total_steps=total_steps,
                    steps_per_execution=steps_per_execution,
                    check_every=check_every)
    per_pass = -(-num_examples // batch_size)
    block, execution = _blocks(total_steps, min(total_steps, check_every),
                               steps_per_execution, per_pass)
    return FitPlan(per_pass, total_steps / per_pass, execution, block,
                   total_steps // block, budget=total_steps)


def _require_counts(**counts):
    for name, value in counts.items():
        if value < 1:
            raise ValueError(f"`{name}` must be >= 1. Received: {name}={value}")


def _blocks(total, shortest, steps_per_execution, per_pass):
    """`(block, steps_per_execution)`: the shortest block of at least
    `shortest` steps dividing `total` whose graph calls are at least a
    quarter of the request, or one ending on a pass boundary when that is
    at most twice as long."""

    def execution(block):
        return nearest_divisor(block, steps_per_execution)

    blocks = [d for d in divisors(total) if d >= shortest]
    # Blocks whose graph calls are at least a quarter of the request.
    usable = [d for d in blocks
              if 4 * execution(d) >= min(steps_per_execution, d)] or [total]
    block = usable[0]
    aligned = [d for d in usable if d % per_pass == 0 and d <= 2 * block]
    if aligned:
        block = aligned[0]
    return block, execution(block)


def divisors(n):
    """The divisors of `n`, ascending."""
    small = [d for d in range(1, int(n ** 0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def nearest_divisor(n, target):
    """The divisor of `n` nearest `target` (the smaller of two as near),
    at most `2 * target`."""
    return min((d for d in divisors(n) if d <= 2 * target),
               key=lambda d: (abs(d - target), d))


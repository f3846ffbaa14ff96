"""`plan_fit`: a run is exactly its passes, in whole executions, checked
in equal blocks of at least `check_every` steps."""

import pytest

from kzoo.training.plan import FitPlan, divisors, nearest_divisor, plan_fit


def check(plan):
    """What every plan keeps, whatever its numbers."""
    assert plan.steps_per_epoch * plan.epochs == plan.total_steps
    assert plan.steps_per_epoch % plan.steps_per_execution == 0
    assert plan.total_steps == plan.steps_per_pass * plan.passes


@pytest.mark.parametrize(
    "num,batch,passes,requested,every,expected",
    [
        # The README main job's teacher: 50 images, 4 steps a pass, 300
        # passes; 30 steps a call, 4 checks of 75 passes.
        (50, 16, 300, 32, 250, FitPlan(4, 300, 30, 300, 4)),
        # Its students: 26 steps a pass, 100 passes: checks of 10 passes.
        (1240, 48, 100, 32, 250, FitPlan(26, 100, 26, 260, 10)),
        # 41 steps a pass (prime), 30 passes: checks of 10 passes in calls
        # of one pass (41 is nearer 32 than 10 is); never a step beyond
        # the run.
        (1295, 32, 30, 32, 250, FitPlan(41, 30, 41, 410, 3)),
        # The same at 3 passes (the LeNet benchmark's round): one check of
        # 123 steps in calls of 41, not 3.
        (1295, 32, 3, 32, 250, FitPlan(41, 3, 41, 123, 1)),
        # A pass longer than --check-every: one pass per check.
        (1293, 16, 5, 32, 50, FitPlan(81, 5, 27, 81, 5)),
        # Fewer steps than --check-every in the whole run: one check.
        (100, 16, 3, 32, 250, FitPlan(7, 3, 21, 21, 1)),
        # One step per call.
        (64, 16, 10, 1, 8, FitPlan(4, 10, 1, 8, 5)),
    ],
)
def test_plan(num, batch, passes, requested, every, expected):
    plan = plan_fit(num, batch, passes, requested, every)
    check(plan)
    assert plan == expected


@pytest.mark.parametrize("num", [1, 17, 50, 1295, 1297, 9973])
@pytest.mark.parametrize("batch", [1, 16, 32, 64])
@pytest.mark.parametrize("passes", [1, 7, 30, 300])
def test_no_plan_trains_more_or_less_than_its_passes(num, batch, passes):
    plan = plan_fit(num, batch, passes, 32, 250)
    check(plan)
    assert plan.steps_per_pass == -(-num // batch)
    assert plan.steps_per_execution <= 64
    assert plan.steps_per_epoch >= min(plan.total_steps,
                                       max(plan.steps_per_pass, 250))
    assert plan.passes_done(plan.epochs) == passes
    assert plan.steps_done(plan.epochs) == plan.total_steps


def test_checks_end_on_pass_boundaries_when_that_costs_at_most_twice():
    # 40 steps a pass, 30 passes: 300 steps (7.5 passes) is the shortest
    # block; 400 (10 passes) is taken.
    plan = plan_fit(40, 1, 30, 32, 250)
    assert plan.steps_per_epoch == 400 and plan.passes_done(1) == 10
    # 36 steps a pass, 25 passes: the shortest pass-aligned block is the
    # whole run (900 steps), 3x the 300-step block that cuts passes.
    plan = plan_fit(36, 1, 25, 32, 250)
    assert plan.steps_per_epoch == 300 and plan.steps_per_execution == 30
    assert plan.passes_done(1) == pytest.approx(300 / 36)


def test_a_prime_number_of_passes_is_checked_a_few_passes_at_a_time():
    # 10 steps a pass, 313 passes: the blocks dividing 3,130 steps with
    # usable calls are the whole run; checks of one pass instead.
    plan = plan_fit(10, 1, 313, 32, 250)
    check(plan)
    assert (plan.steps_per_epoch, plan.steps_per_execution) == (10, 10)
    plan = plan_fit(10, 1, 313, 32, 5000)  # longer checks allowed: one
    assert plan.epochs == 1


def test_divisors():
    assert divisors(1) == [1]
    assert divisors(12) == [1, 2, 3, 4, 6, 12]
    assert divisors(49) == [1, 7, 49]


def test_nearest_divisor():
    assert nearest_divisor(1200, 32) == 30
    assert nearest_divisor(410, 32) == 41  # 9 away, 10 is 22 away
    assert nearest_divisor(41, 32) == 41
    assert nearest_divisor(83, 32) == 1  # 83 is over twice the request
    assert nearest_divisor(7, 32) == 7
    assert nearest_divisor(24, 1) == 1
    assert nearest_divisor(40, 30) == 20  # 20 and 40 are as near: the smaller


@pytest.mark.parametrize("name", ["num_examples", "batch_size", "passes",
                                  "steps_per_execution", "check_every"])
def test_counts_below_one_are_refused(name):
    values = dict(num_examples=10, batch_size=2, passes=1, steps_per_execution=1,
                  check_every=1)
    with pytest.raises(ValueError, match=name):
        plan_fit(**dict(values, **{name: 0}))

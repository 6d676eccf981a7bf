import pytest

from molvae.training.annealing import SCHEDULES, kl_weight


@pytest.mark.parametrize("schedule", ["linear", "sigmoid", "cyclical"])
def test_ramps_from_zero_to_beta(schedule):
    assert kl_weight(0, schedule, 0.5, 100) == pytest.approx(0.0)
    assert kl_weight(100, schedule, 0.5, 100) == pytest.approx(0.5)
    assert kl_weight(10_000, schedule, 0.5, 100) == pytest.approx(0.5)
    assert all(0 <= kl_weight(s, schedule, 0.5, 100) <= 0.5 for s in range(0, 200, 7))


@pytest.mark.parametrize("schedule", ["linear", "sigmoid"])
def test_monotone(schedule):
    values = [kl_weight(s, schedule, 1.0, 50) for s in range(60)]
    assert values == sorted(values)


def test_cyclical_restarts():
    values = [kl_weight(s, "cyclical", 1.0, 100, cycles=4) for s in range(100)]
    assert values[24] == pytest.approx(1.0)  # end of first cycle holds at 1
    assert values[25] == pytest.approx(0.0)  # second cycle restarts
    assert values[37] > 0.9


def test_constant_and_start_step():
    assert kl_weight(0, "constant", 0.3, 100) == 0.3
    assert kl_weight(5, "linear", 1.0, 10, start_step=10) == 0.0
    assert kl_weight(15, "linear", 1.0, 10, start_step=10) == pytest.approx(0.5)
    assert set(SCHEDULES) == {"constant", "linear", "sigmoid", "cyclical"}

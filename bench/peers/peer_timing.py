"""The Python peers' timing loop: warm-up steps, then as many as fit in the seconds."""
import time

WARMUP_STEPS = 20


def steps_per_second(step, seconds):
    """(steps, elapsed seconds) of step(i) called for i = 0, 1, … until `seconds` have passed."""
    for s in range(WARMUP_STEPS):
        step(s)
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(steps)
        steps += 1
    return steps, time.perf_counter() - start

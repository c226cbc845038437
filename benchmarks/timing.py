"""What the page benchmarks share: timing a read the same way everywhere."""

import statistics
import time


def timed(function, repeat: int) -> tuple[float, float]:
    """Median and p95 of `repeat` runs, in milliseconds (one warm-up run first)."""
    function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]

"""The one timing harness of bench/: the best of several timed runs after a warm-up, and peak memory.

    best_times([f, g], repeats)          # [best s of f, best s of g]; every round runs each once
    measure(f, repeats, memory="arrays") # (best s, peak MB of arrays allocated during a run: tracemalloc)
    measure(f, repeats, memory="process")# (best s, peak MB of the process's resident memory above
                                         #  its size before the warm-up: /proc, Linux only)

The best time, not the mean: on a shared machine noise only ever adds time.
"""
import time
import tracemalloc


def best_times(fns, repeats):
    """Best time (s) of each function over `repeats` rounds, after one warm-up run of each
    (allocation, caches); the rounds interleave the functions so that drift hits all alike."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def memory_kb(field):
    """A field of /proc/self/status in kB (VmRSS, VmHWM), 0 where there is no /proc."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")                           # resets VmHWM to the current VmRSS
    except OSError:
        pass


def measure(fn, repeats, memory="arrays"):
    """(best time in s, peak MB) of fn over a warm-up and `repeats` runs; memory: "arrays" (what
    Python allocates during one run, NumPy's arrays included) or "process" (resident set)."""
    if memory == "process":
        base = memory_kb("VmRSS")
        _reset_peak_rss()
        best = best_times([fn], repeats)[0]
        return best, (memory_kb("VmHWM") - base) / 1024
    if memory != "arrays":
        raise ValueError(f"memory must be 'arrays' or 'process', got {memory!r}")
    fn()
    best, peak = float("inf"), 0.0
    for _ in range(repeats):
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
        peak = max(peak, (tracemalloc.get_traced_memory()[1] - base) / 2 ** 20)
        tracemalloc.stop()
    return best, peak

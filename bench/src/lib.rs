//! Empty: the benchmarks are in `benches/` (see bench/run.py).

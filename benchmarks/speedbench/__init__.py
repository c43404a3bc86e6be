"""The benchmark harness of benchmarks/run_benchmark.py (issue #19)."""

"""Benchmarks of legflow (run each as ``python -m benchmarks.NAME``); not part of the package."""

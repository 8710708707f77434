"""Benchmarks and evaluations over data sets: used by the CLI's `bench` and `eval` commands, not by the app."""

"""Helpers the tests and the benchmarks share: real servers started on 127.0.0.1."""

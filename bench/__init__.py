"""Benchmarks that print figures; run one with `.venv/bin/python -m bench.<name>`."""

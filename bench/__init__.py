"""The benchmark (issue 8): AWS calls, handler time, cold start, burst and a side-by-side, on the local AWS.

Run it with `make bench` (or `python -m bench.run --help`); it is not part of the tests.
"""

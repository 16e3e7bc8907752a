"""Benchmarks that measure recengine against the libraries it wraps and physical bounds.

Run ``python -m benchmarks.run [--quick] [--only NAME]``; see ``benchmarks/README.md``.
Each benchmark runs us and the reference in one process on the same data and returns a
:class:`~benchmarks.report.Result`.
"""

"""The agno-nb benchmark suite: ``python -m bench [section ...]`` (see ``bench/__main__.py``).

Benchmarks print; they never assert on timings. Modules starting with ``_`` and
``agno_side.py`` are stdlib-only or standalone: keep this package's import free of
agno_nb so that Agno's venv can import ``bench._stats`` and friends.
"""

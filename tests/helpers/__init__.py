"""Plain functions that several test files share.

Importable as ``helpers`` because pyproject.toml puts tests/ on pytest's ``pythonpath``
(the suite runs with ``--import-mode=importlib``, where test files cannot import each
other).  Fixtures stay in the conftest.py files; these are ordinary functions.
"""

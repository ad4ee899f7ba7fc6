"""Plain functions that several test files share.

- ``byte_fixtures``: hex fixtures, and damaged copies of them for robustness tests;
- ``captures``: a capture's UDP datagrams and TCP segments, read with scapy;
- ``events``: what a decoder under test emitted;
- ``tshark``: tshark's fields for a capture, and comparing them with a decoder's events.

Importable as ``helpers`` because pyproject.toml puts tests/ on pytest's ``pythonpath``
(the suite runs with ``--import-mode=importlib``, where test files cannot import each
other).  Fixtures stay in the conftest.py files; these are ordinary functions.
"""

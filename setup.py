"""What pyproject.toml cannot say: the top-level ``signatures/`` directory (data, kept at the
repository's top level by the client's layout) ships inside the package as ``scanner/_signatures``,
so a wheel install (pip, pipx) scans with the same signatures as a checkout."""

from setuptools import find_namespace_packages, find_packages, setup

DATA = ["*.yaml", "*.json", "*.txt", "*.md", "*.html", "*.css", "*.js"]
# Its subdirectories (identifiers/tables, trackers, policies) are data-only namespace packages.
SIGNATURES = ["scanner._signatures", *(f"scanner._signatures.{name}" for name in find_namespace_packages(where="signatures"))]

setup(
    packages=[*find_packages(include=["scanner", "scanner.*"]), *SIGNATURES],
    package_dir={"scanner._signatures": "signatures"},
    package_data={"": DATA},
)

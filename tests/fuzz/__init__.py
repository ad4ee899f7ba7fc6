"""The fuzz campaign and the resource cases of issue 15 (see fuzz/README.md)."""

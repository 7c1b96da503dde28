"""joblet-memory: transparent disk-caching of function results.

The public API (``Memory`` and friends) is being built; see the package README.
"""

__version__ = "0.1.0"

__all__: list[str] = ["__version__"]

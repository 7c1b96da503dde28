"""joblet: lightweight pipelining in Python.

Re-exports the public API of every joblet distribution as they land; today that is
``hash`` (from joblet-hash). See the package README.
"""

__version__ = "0.1.0"

__all__: list[str] = ["__version__"]

"""joblet-parallel: embarrassingly parallel loops on threads and processes.

The public API (``Parallel``, ``delayed`` and friends) is being built; see the
package README.
"""

__version__ = "0.1.0"

__all__: list[str] = ["__version__"]

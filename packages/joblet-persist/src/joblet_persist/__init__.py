"""joblet-persist: dump/load, a faster and safer pickle for large data.

The public API (``dump``, ``load``, ``register_compressor``) is being built; see the
package README for what this distribution will hold.
"""

__version__ = "0.1.0"

__all__: list[str] = ["__version__"]

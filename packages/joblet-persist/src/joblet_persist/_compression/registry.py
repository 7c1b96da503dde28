"""The compressor registry: names for ``dump``, magic prefixes for ``load``.

A compressor's name only selects it in ``dump``; files never record it, since a
compressed file is a standard stream recognised by its magic number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import CompressorWrapper

if TYPE_CHECKING:
    from .streams import BlockFormat

# The built-in compressors are registered on first use of the registry, so
# that importing joblet_persist does not import every codec module.
_CODECS_MODULE = f"{__package__}.builtin"
_COMPRESSORS: dict[str, CompressorWrapper] = {}
_builtins_registered = False


def _registry() -> dict[str, CompressorWrapper]:
    """The registry, with the built-in compressors first (registered once)."""
    global _builtins_registered
    if not _builtins_registered:
        from .builtin import BUILTIN_COMPRESSORS

        _COMPRESSORS.update(BUILTIN_COMPRESSORS)
        _builtins_registered = True
    return _COMPRESSORS


def register_compressor(
    compressor_name: str, compressor: CompressorWrapper, force: bool = False
) -> None:
    """Register a new compressor for :func:`dump` and :func:`load`, as in joblib.

    Parameters
    ----------
    compressor_name : str
        The name given to ``dump(compress=name)`` or ``(name, level)``; any
        non-empty string (it is not stored in the files).
    compressor : CompressorWrapper
        An instance of :class:`CompressorWrapper` (or of a subclass), e.g.
        ``CompressorWrapper(obj=MyFile, prefix=b'MYFMT', extension='.my')``.
    force : bool, default False
        Replace an existing compressor of the same name.

    Raises
    ------
    ValueError
        When the name is not a non-empty str, is already registered (and
        ``force`` is False), ``compressor`` is not a ``CompressorWrapper``, its
        prefix is not bytes (a str of byte values is taken as its bytes), or
        its file class cannot read and write.
    """
    if not isinstance(compressor_name, str) or not compressor_name:
        raise ValueError(
            f"compressor_name must be a non-empty str, got {compressor_name!r}"
        )
    if not isinstance(compressor, CompressorWrapper):
        raise ValueError(
            f"compressor must be an instance of joblet_persist.CompressorWrapper, got "
            f"{compressor!r}; subclass it or wrap a file-object factory: "
            "CompressorWrapper(obj=gzip.GzipFile, prefix=b'...', extension='.ext')"
        )
    _check_prefix(compressor.prefix)
    _check_file_class(compressor.fileobj_factory)
    registry = _registry()
    if compressor_name in registry and not force:
        raise ValueError(
            f"a compressor named {compressor_name!r} is already registered; "
            "pass force=True to replace it"
        )
    registry[compressor_name] = compressor


def _check_prefix(prefix: object) -> None:
    """A magic prefix is bytes, or a str of byte values (joblib's tests write one)."""
    if isinstance(prefix, (bytes, bytearray)):
        return
    if isinstance(prefix, str):
        try:
            prefix.encode("latin-1")
        except UnicodeEncodeError:
            pass
        else:
            return
    raise ValueError(
        f"the compressor's prefix must be the bytes its files start with, got "
        f"{prefix!r}; e.g. CompressorWrapper(obj=..., prefix=b'MYFMT')"
    )


def _check_file_class(factory: object) -> None:
    """The file class (if any) must read and write, as joblib checks."""
    if factory is None:  # the wrapper overrides compressor_file/decompressor_file
        return
    missing = [name for name in ("read", "write") if not hasattr(factory, name)]
    if missing:
        raise ValueError(
            "Compressor 'fileobj_factory' attribute should implement the file "
            f"object interface: {factory!r} has no {' or '.join(missing)}; pass a "
            "file class such as gzip.GzipFile (or a subclass of io.BufferedIOBase)"
        )


def _prefix_bytes(prefix: bytes | bytearray | str) -> bytes:
    return prefix.encode("latin-1") if isinstance(prefix, str) else bytes(prefix)


def registered() -> list[str]:
    return sorted(_registry())


def lookup(name: str) -> CompressorWrapper | None:
    return _registry().get(name)


def get_compressor(name: str, where: str = "") -> CompressorWrapper:
    """The registered compressor ``name``, or a ValueError saying what exists."""
    try:
        compressor = _registry()[name]
    except KeyError:
        from joblet_hash.names import unknown_name_message

        context = f"{where} needs an " if where else ""
        message = unknown_name_message("compressor", name, registered())
        raise ValueError(
            f"{context}{message}. Use one of those or add yours with "
            "joblet_persist.register_compressor"
        ) from None
    missing = compressor.available()
    if missing is not None:
        raise ValueError(missing)
    return compressor


def compressor_for_prefix(head: bytes) -> tuple[str, CompressorWrapper] | None:
    """The compressor whose magic starts ``head`` (longest prefix first)."""
    matches = []
    for name, wrapper in _registry().items():
        prefix = _prefix_bytes(wrapper.prefix)
        if prefix and head.startswith(prefix):
            matches.append((len(prefix), name, wrapper))
    if not matches:
        return None
    _, name, wrapper = max(matches, key=lambda match: match[0])
    return name, wrapper


def compressor_for_extension(filename: str) -> str | None:
    """The name of the (last registered) compressor whose extension ends ``filename``."""
    found = [
        name
        for name, wrapper in _registry().items()
        if wrapper.extension and filename.endswith(wrapper.extension)
    ]
    return found[-1] if found else None


def parallel_format(
    compressor: CompressorWrapper, level: int | None
) -> BlockFormat | None:
    """The block format to write with, unless the wrapper defines its own files.

    A subclass overriding ``compressor_file`` gets its whole-stream behaviour,
    as in joblib, even when it derives from a built-in compressor.
    """
    method = type(compressor).compressor_file
    if method.__module__ not in (CompressorWrapper.__module__, _CODECS_MODULE):
        return None
    return compressor.block_format(level)

"""Compression: standard streams written and read in independent blocks.

Everything that turns a joblet file into a gzip, zlib, bz2, xz, lzma, lz4 or
zstd stream and back lives here; the format modules beside this package
(``_container``, ``_dump``, ``_load`` ...) see a compressor only as a file
object or a :class:`~.streams.BlockFormat`. Nothing is imported with the
package: ``import joblet_persist`` never imports a codec.

::

    arguments.py   dump's ``compress=`` read as joblib reads it
        |            (0, True, a level, a name, a (name, level) tuple, a file extension)
        v
    registry.py    names -> compressors, magic prefixes -> compressors;
        |            register_compressor; the built-ins registered on first use
        v
    base.py        CompressorWrapper, the public base class (joblib's interface:
        |            compressor_file, decompressor_file, prefix, extension)
        v
    builtin.py     one CompressorWrapper per built-in codec, each naming its
        |            block format (BUILTIN_COMPRESSORS)
        v
    streams.py     the engine: write_stream encodes blocks on threads, in order;
        |            DecodedStream finds the blocks of a stream and decodes them
        |            in parallel, sequentially from the first it cannot bound
        v
    gzip_bz2_lz4_blocks.py   BlockFormat of gzip (BGZF-like members), bz2 and lz4
    zlib_blocks.py           BlockFormat of zlib (full-flushed deflate blocks)
    xz_blocks.py             BlockFormat of xz (LZMA2 blocks, the xz index)
    zstd_blocks.py           BlockFormat of zstd (frames, the seekable seek table)
    zlib_file.py             a raw zlib stream as a file object (joblib's .z files)

To add a codec: its block format (a ``<codec>_blocks.py`` here, subclassing
:class:`~.streams.BlockFormat`), its wrapper in ``builtin.py`` (whose ``prefix``,
the stream's magic bytes, is how ``load`` recognises its files) and its name in
``BUILTIN_COMPRESSORS``; its extension, if it has one, is the wrapper's
``extension``. Format version 1 files (joblet-persist 0.1) had joblet's own
chunked container instead: ``_format_v1`` beside this package reads them.
"""

"""Where cache entries live: the store backends and what they share.

Layout, from the interface down::

    _base.py          StoreBackendBase: what Memory asks of a store (the contract)
    _registry.py      backend names -> classes; make_store() picks one for a location
    _local.py         'local': a browsable folder tree (flock leases in _locking.py)
    _fsspec.py        'fsspec': object stores (S3, GCS, memory://), leases in
                      _leases.py, local copies for mmap in _local_copies.py
    _result_files.py  how a result file is written and read (the only module that
                      knows it is a joblet-persist dump, with a signature trailer)
    _signing.py       the trailer: HMAC keys, signing and verifying
    _trust.py         which locations need signatures (the threat model)
    _leftovers.py     temporaries of killed writers: counted and swept

To add a store: subclass ``StoreBackendBase`` (``_base.py``), register it in
``_registry.py`` or with ``register_store_backend``, and add it to the
``STORES`` of ``tests/joblet_memory/test_contract.py``.
"""

"""Load the kernels a run calls from Numba's on-disk cache ahead of their first call.

A jitted function's first call in a process loads its machine code from the cache
(``cache=True``): 0.1-0.3 s for the path kernel. :func:`simulate` has this process do it
while it would only wait for the institution processes' workers
(``processes.workers.map_replicas``'s ``meanwhile``), so the kernels' first call is as
fast as any later one. Only entries the cache holds for this machine and this source are
loaded; nothing is ever compiled here, and a failure leaves the first call to do it as
usual: this changes the time, never a number.
"""

from __future__ import annotations

import os

from ..kernels.factors import year_factors
from ..kernels.origination import mark_fast_windows
from ..kernels.parameters import parameter_uniforms
from ..kernels.portfolio import simulate_paths

#: the jitted functions ``simulate`` calls after the processes (the ones they call are
#: loaded with them)
RUN_KERNELS = (simulate_paths, year_factors, parameter_uniforms, mark_fast_windows)


def load_cached(dispatchers=RUN_KERNELS) -> int:
    """Load every signature the cache holds for ``dispatchers`` (this machine, this
    source) into them; the number loaded."""
    loaded = 0
    for dispatcher in dispatchers:
        try:
            cache = dispatcher._cache
            index_file = cache._cache_file
            codegen = dispatcher.targetctx.codegen()
            for key, data_name in index_file._load_index().items():
                sig = key[0]
                if key != cache._index_key(sig, codegen):
                    continue  # another machine's or an older source's entry
                if not os.path.exists(index_file._data_path(data_name)):
                    continue  # compile() would compile it: leave that to the first call
                dispatcher.compile(sig)
                loaded += 1
        except Exception:  # Numba's internals moved: the first call loads, as it would
            continue
    return loaded

"""The uniforms of the uncertain parameters: one per (path, stream), counter-based.

Stream ``h`` of path ``p`` is ``u64_to_unit`` of the first two words of Philox with
counter ``(h, PARAMETER_STREAM_ID, 0, PURPOSE_PARAMETER)`` and key ``(seed, p)``. The
purpose word is used by no other draw (``factors.py``), so these never share a counter
with a factor or a loan record; ``h`` is a stable hash of a parameter's key or group
(``engine/parameters.py``), so a path's uniform depends on nothing but the seed, the path
and the name.
"""

from __future__ import annotations

from ..philox import jit, philox4x32_10, u64_to_unit
from .factors import PURPOSE_PARAMETER

PARAMETER_STREAM_ID = 0xFFFFFFFE  # counter word 1; record ids' high words are 31-bit


@jit()
def parameter_uniforms(seed, first_path, streams, out):
    """``out[i, j]``: the uniform of stream ``streams[j]`` on path ``first_path + i``."""
    for i in range(out.shape[0]):
        for j in range(streams.shape[0]):
            w0, w1, _, _ = philox4x32_10(
                streams[j], PARAMETER_STREAM_ID, 0, PURPOSE_PARAMETER, seed, first_path + i
            )
            out[i, j] = u64_to_unit(w0, w1)

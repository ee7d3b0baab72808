"""The garbage collector kept off the room's loop: what is loaded once is frozen out of its reach.

CPython's cyclic collector walks every object it tracks in a full (generation 2) collection, holding the GIL.
The room keeps several hundred thousand long-lived objects: FastAPI's routes and models, the model SDKs once
used, and deduce's lookup tables once the Dutch de-identification has loaded (most of them). Measured with
``bench/bench_ws.py --busy``, a full collection over them took 165 ms (median) and up to 290 ms, while the
loop, and with it a tap at the door and every screen, waited.

:func:`freeze` moves every object alive now into the permanent generation; later collections walk only what
came after. It is called once the room serves and after each big load on first use. Reference counting still
frees a frozen object that is no longer used; only a reference cycle among frozen objects stays.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze(reason: str) -> int:
    """Move every object the collector tracks now out of its reach (``reason``: for the log).

    Returns:
        How many objects were moved.
    """
    before = gc.get_freeze_count()
    gc.freeze()
    moved = gc.get_freeze_count() - before
    log.debug("%d long-lived objects frozen out of the garbage collector's reach (%s)", moved, reason)
    return moved

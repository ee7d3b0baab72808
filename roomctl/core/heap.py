"""The garbage collector kept off the room's loop: what is loaded once is frozen out of its reach.

CPython's cyclic collector walks every object it tracks in a full (generation 2) collection, holding the GIL.
The room keeps several hundred thousand long-lived objects: FastAPI's routes and models, the model SDKs once
used, and deduce's lookup tables once the Dutch de-identification has loaded (most of them). Measured with
``bench/bench_ws.py --busy``, a full collection over them took 165 ms (median) and up to 290 ms, while the
loop, and with it a tap at the door and every screen, waited.

:func:`freeze` moves every object alive now into the permanent generation; later collections walk only what
came after. It is called once the room serves; each big load on first use (deduce, a model SDK) runs inside
:func:`loading`, which keeps the collector off while it builds and freezes what it built. Reference counting
still frees a frozen object that is no longer used; only a reference cycle among frozen objects stays.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator

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


@contextlib.contextmanager
def loading(reason: str) -> Iterator[None]:
    """Build something big without collections on the way, then :func:`freeze` it (``reason``: for the log).

    Loading deduce makes about 230,000 long-lived objects in a few seconds. With the collector on, that growth
    sets off collection after collection, the full ones over an ever larger heap, each holding the GIL and with
    it the room's loop: at the start of a session, when the door, the kiosk and the tablet are busiest. With it
    off, nothing is collected until the load is done, and then what it made is frozen out of reach.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        freeze(reason)
        if was_enabled:
            gc.enable()

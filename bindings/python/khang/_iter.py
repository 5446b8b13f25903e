"""Python iteration over libkhang iterators (internal)."""

from ctypes import byref

from ._ffi import handle
from .errors import ITEROVER


class HandleIterator:
    """Iterates a C iterator (``_iter_new`` / ``_next`` / ``_iter_free``).

    The C iterator is freed at the end of the walk, by :meth:`close`, at the
    end of a ``with`` block, or when its dump is closed. :attr:`skipped` is
    the number of damaged entries the walk stepped over (libkhang skips and
    counts them rather than ending the walk).
    """

    def __init__(self, dump, new, next_, free, skipped, wrap, *args):
        self._dump = dump
        self._next = next_
        self._free = free
        self._skipped_fn = skipped
        self._wrap = wrap
        self._skipped = 0
        self._it = None
        p = handle()
        with dump._lock:
            new(byref(p), dump._handle(), *args)
        self._it = p.value
        dump._iters.add(self)

    def __iter__(self):
        return self

    def __next__(self):
        if not self._it:
            raise StopIteration
        out = handle()
        with self._dump._lock:
            self._dump._handle()
            rc = self._next(byref(out), self._it)
            if rc == ITEROVER:
                self.close()
                raise StopIteration
            return self._wrap(self._dump, out.value)

    @property
    def skipped(self):
        """Entries that could not be read and were skipped (so far)."""
        if self._it:
            with self._dump._lock:
                return self._skipped_fn(self._it)
        return self._skipped

    def close(self):
        """Free the C iterator (called for you at the end of the walk)."""
        if self._it:
            with self._dump._lock:
                self._skipped = self._skipped_fn(self._it)
                self._free(self._it)
                self._it = None
            self._dump._iters.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

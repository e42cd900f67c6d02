"""Django's SQLite backend with writers handed over at once (settings: ENGINE "config.sqlite").

In WAL mode SQLite has one writer at a time, and a writer that finds the database locked waits in
SQLite's busy handler, which sleeps in steps of 1, 2, 5, 10, 15, 20, 25 ... 100 ms and looks again:
it wakes late, not when the lock is free. Five claims of a 50-route comparison arriving together
spent up to 100 ms waiting for a lock that was free after 40 (their work took 3-20 ms each), so the
last of the calls started late.

Here a transaction (every ``atomic`` block is ``BEGIN IMMEDIATE``, the database's write lock)
first takes this machine's writer lock: the threads of one process queue on a ``threading.Lock``
(the next one is woken when it is released), and the process whose thread is first asks for an
``flock`` on a file beside the database, looking again every half millisecond while another
process holds it. It is held from BEGIN to COMMIT or ROLLBACK (or close), exactly the span SQLite
holds its own lock, so nothing waits that SQLite would not have made wait. A wait longer than the
busy timeout goes on to SQLite's own (which then fails as before). Writes outside a transaction
(a single UPDATE in autocommit) still wait in SQLite's busy handler. In-memory databases (the test
suite's) have a single connection and need none of this."""

import fcntl
import os
import threading
import time

from django.db.backends.sqlite3 import base

POLL_SECONDS = 0.0005  # between two looks at another process's flock


class WriterLock:
    """One writer at a time among the processes and threads on this machine that use one database file."""

    def __init__(self, path):
        self.path = path
        self.threads = threading.Lock()
        self.fd, self.pid = None, None

    def acquire(self, timeout):
        deadline = time.monotonic() + timeout
        if not self.threads.acquire(timeout=timeout):
            return False
        try:
            fd = self._fd()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(POLL_SECONDS)
        except OSError:
            pass  # no lock file (a read-only directory): SQLite's own lock still guards the data
        self.threads.release()
        return False

    def release(self):
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.threads.release()

    def _fd(self):
        if self.pid != os.getpid():  # a forked child opens its own: a shared description is one holder
            self.fd, self.pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        return self.fd


_locks, _locks_guard = {}, threading.Lock()


def writer_lock(name):
    path = f"{os.path.abspath(name)}-writer.lock"
    with _locks_guard:
        return _locks.setdefault(path, WriterLock(path))


class DatabaseWrapper(base.DatabaseWrapper):
    holds_writer_lock = False

    def _start_transaction_under_autocommit(self):
        lock = None if self.is_in_memory_db() else writer_lock(self.settings_dict["NAME"])
        if lock is not None and lock.acquire(self.settings_dict.get("OPTIONS", {}).get("timeout", 5)):
            self.holds_writer_lock, self.writer_lock = True, lock
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writer()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer()

    def _release_writer(self):
        if self.holds_writer_lock:
            self.holds_writer_lock = False
            self.writer_lock.release()

"""config/sqlite/base.py: the embedded database's writers queue on a lock that is handed over at once
(a thread lock in each process, an flock on a file beside the database between processes), held
exactly from BEGIN IMMEDIATE to COMMIT or ROLLBACK, instead of waiting in SQLite's sleeping busy
handler. How much sooner the next writer starts is a timing, measured in bench/ (the 50-route
fan-out); here: which transactions hold the lock, that every way out gives it back, and that a
second writer waits for the first and then goes on."""

import fcntl
import os
import threading

import pytest
from django.db import transaction
from django.db.utils import ConnectionHandler

from config.sqlite.base import WriterLock, writer_lock


@pytest.fixture
def database(tmp_path, monkeypatch, django_db_blocker):
    """A file database of its own on the project's backend (not the test database), with
    ``transaction.atomic()`` bound to it: each thread gets its own connection (Django's
    connections are per thread)."""
    name = tmp_path / "db.sqlite3"
    handler = ConnectionHandler({"default": {"ENGINE": "config.sqlite", "NAME": str(name),
                                             "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 10}}})
    monkeypatch.setattr(transaction, "get_connection", lambda using=None: handler["default"])
    with django_db_blocker.unblock():
        with handler["default"].cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("CREATE TABLE rows (who TEXT)")
        yield handler, name
        handler.close_all()


def held_elsewhere(name):
    """Whether another holder (another open file description: as another process would) has the
    writer lock's flock now."""
    fd = os.open(f"{name}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing the description drops the flock it may have taken
    return False


def test_a_transaction_holds_the_writer_lock_from_begin_to_commit(database):
    handler, name = database
    conn = handler["default"]
    assert not held_elsewhere(name)
    with transaction.atomic():
        conn.cursor().execute("INSERT INTO rows VALUES ('a')")
        assert conn.holds_writer_lock and held_elsewhere(name)
        with transaction.atomic():  # a savepoint inside: still the one lock, taken once
            conn.cursor().execute("INSERT INTO rows VALUES ('b')")
        assert held_elsewhere(name)
    assert not conn.holds_writer_lock and not held_elsewhere(name)
    assert conn.cursor().execute("SELECT count(*) FROM rows").fetchone()[0] == 2


def test_a_rollback_an_error_and_a_close_give_the_lock_back(database):
    handler, name = database
    conn = handler["default"]
    with pytest.raises(ZeroDivisionError):
        with transaction.atomic():
            conn.cursor().execute("INSERT INTO rows VALUES ('lost')")
            1 / 0
    assert not held_elsewhere(name)
    assert conn.cursor().execute("SELECT count(*) FROM rows").fetchone()[0] == 0
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            conn.close()  # e.g. kept_connection closing a connection left in a transaction
            raise RuntimeError("gone")
    assert not conn.holds_writer_lock and not held_elsewhere(name)
    with transaction.atomic():  # and the next transaction takes it again
        handler["default"].cursor().execute("INSERT INTO rows VALUES ('next')")
        assert held_elsewhere(name)
    assert not held_elsewhere(name)


def test_a_second_writer_waits_for_the_first_and_then_sees_its_row(database):
    handler, name = database
    entered, done = threading.Event(), threading.Event()
    seen = []

    def second():
        with transaction.atomic():  # this thread's own connection
            entered.set()
            cursor = handler["default"].cursor()
            seen.extend(r[0] for r in cursor.execute("SELECT who FROM rows ORDER BY who"))
            cursor.execute("INSERT INTO rows VALUES ('second')")
        handler["default"].close()
        done.set()

    with transaction.atomic():
        handler["default"].cursor().execute("INSERT INTO rows VALUES ('first')")
        thread = threading.Thread(target=second)
        thread.start()
        assert not entered.wait(0.3)  # it waits while this one holds the lock
    assert done.wait(10) and entered.is_set()
    thread.join(5)
    assert seen == ["first"]
    assert not held_elsewhere(name)


def test_a_writer_gives_up_waiting_after_the_timeout_and_leaves_it_to_sqlite(tmp_path):
    lock = WriterLock(str(tmp_path / "x-writer.lock"))
    assert lock.acquire(1)
    got = []
    thread = threading.Thread(target=lambda: got.append(lock.acquire(0.05)))
    thread.start()
    thread.join(5)
    assert got == [False]  # not taken, nothing left held: the transaction goes on to SQLite's own wait
    lock.release()
    assert lock.acquire(0.05)
    lock.release()


def test_one_lock_per_database_file_and_none_for_a_memory_database(tmp_path, monkeypatch, django_db_blocker):
    assert writer_lock(str(tmp_path / "a.sqlite3")) is writer_lock(str(tmp_path / "a.sqlite3"))
    assert writer_lock(str(tmp_path / "a.sqlite3")) is not writer_lock(str(tmp_path / "b.sqlite3"))
    handler = ConnectionHandler({"default": {"ENGINE": "config.sqlite", "NAME": ":memory:",
                                             "OPTIONS": {"transaction_mode": "IMMEDIATE"}}})
    monkeypatch.setattr(transaction, "get_connection", lambda using=None: handler["default"])
    with django_db_blocker.unblock():
        with transaction.atomic():
            handler["default"].cursor().execute("SELECT 1")
            assert not handler["default"].holds_writer_lock
        handler.close_all()

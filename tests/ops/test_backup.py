"""The backup and restore commands of docs/deploy.md, run as written on a real history: the copy has
every row, is consistent, and the app runs on it (no migration missing)."""

import sqlite3
import subprocess
import sys
import uuid

import pytest

from providers.testing.stack import reachable

from tests.helpers import app_env, manage, skip_or_fail

TABLES = ("compare_comparison", "compare_result", "compare_team", "auth_user")


def sqlite_counts(path):
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def test_the_sqlite_online_backup_copies_a_consistent_snapshot_while_the_app_writes(tmp_path):
    live, restored = tmp_path / "live", tmp_path / "restored"
    env = app_env(live)
    manage(env, "migrate", "--noinput")
    manage(env, "generate_history", "--comparisons", "60", "--results-per", "3")
    before = sqlite_counts(live / "db.sqlite3")
    assert before["compare_comparison"] == 60 and before["compare_result"] == 180

    # A writer is in the middle of a transaction (WAL mode, as the app runs) while the backups run.
    writer = sqlite3.connect(live / "db.sqlite3", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM compare_result WHERE id IN (SELECT id FROM compare_result LIMIT 10)")
    subprocess.run(["sqlite3", str(live / "db.sqlite3"), f".backup {tmp_path / 'cli.sqlite3'}"], check=True, timeout=60)
    subprocess.run([sys.executable, "-c", "import sqlite3; s = sqlite3.connect('db.sqlite3'); "
                    "d = sqlite3.connect('backup.sqlite3'); s.backup(d); d.close()"], cwd=live, check=True, timeout=60)
    writer.execute("COMMIT")
    writer.close()
    assert sqlite_counts(tmp_path / "cli.sqlite3") == before  # the committed state, not the half-done write
    assert sqlite_counts(live / "backup.sqlite3") == before

    restored.mkdir()
    (live / "backup.sqlite3").rename(restored / "db.sqlite3")
    renv = app_env(restored, SECRET_KEY=(live / "secret_key").read_text(),
                   CREDENTIALS_KEYS=(live / "credentials_key").read_text())
    manage(renv, "migrate", "--check")  # exit 1 if a migration were missing
    count = manage(renv, "shell", "-c", "from compare.models import Result; print(Result.objects.count())")
    assert count.stdout.strip().splitlines()[-1] == "180"


@pytest.mark.services
def test_pg_dump_and_pg_restore_bring_back_every_row(tmp_path):
    if not reachable("127.0.0.1", 5432):
        skip_or_fail("PostgreSQL is not reachable at 127.0.0.1:5432", "REQUIRE_SERVICES")
    import psycopg

    name = f"ipc_backup_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url, restored_url = (f"postgres://postgres@127.0.0.1:5432/{n}" for n in (name, f"{name}_restored"))
    try:
        env = app_env(tmp_path / "var", DATABASE_URL=url)
        manage(env, "migrate", "--noinput")
        manage(env, "generate_history", "--comparisons", "60", "--results-per", "3")
        dump = tmp_path / "compare.dump"
        subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", url], check=True, timeout=120)
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", f"{name}_restored"], check=True, timeout=60)
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={restored_url}", str(dump)], check=True, timeout=120)

        def counts(db_url):
            with psycopg.connect(db_url) as db:
                return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}

        assert counts(restored_url) == counts(url) and counts(url)["compare_result"] == 180
        manage(app_env(tmp_path / "var", DATABASE_URL=restored_url), "migrate", "--check")
    finally:
        for db in (name, f"{name}_restored"):
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()

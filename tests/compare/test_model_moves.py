"""A database made by the migrations before the feature apps, holding a row of every model that
moved, upgrades to the feature apps without losing or changing a row (docs/architecture.md).

The database is built in a separate process with `manage.py migrate compare 0034_...` (the last
migration before the move), filled through the migration state of that moment (the models as they
were then, not today's classes), migrated to the end, and read back through today's models: every
field of every moved row is equal, and each content type (which permissions and admin history
point at) keeps its id."""

import json
import subprocess

import pytest


from tests.helpers import app_env, manage, postgres_database

BEFORE_THE_MOVE = "0034_merge_benchmarks_token_name"

# Run in the app's process: one row of every model of the old state that lives in another app
# now, each field filled by its type, foreign keys to the rows made before it.
SEED = """
import datetime, decimal, itertools, json, uuid
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db import models

state = MigrationExecutor(connection).loader.project_state(("compare", "%(before)s"))
apps = state.apps
moved = json.loads('%(moved)s')
made, content_types, making = {}, {}, set()
User = apps.get_model("auth", "User")
made["auth.user"] = User.objects.create(username="before-the-move", password="!")


def value(field, n):
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.BooleanField):
        return True
    if isinstance(field, models.DecimalField):
        return decimal.Decimal("1.25")
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return 7
    if isinstance(field, models.DateTimeField):
        return datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)
    if isinstance(field, models.DateField):
        return datetime.date(2026, 11, 30)
    if isinstance(field, models.JSONField):
        return {"kept": [1, "two"]}
    if isinstance(field, (models.CharField, models.TextField)):
        return ("v%%d-%%s" %% (n, field.name))[: field.max_length or 100]
    if isinstance(field, models.UUIDField):
        return uuid.UUID(int=n + 1)
    if isinstance(field, models.BinaryField):
        return bytes(range(n, n + 16))
    if isinstance(field, models.GenericIPAddressField):
        return "127.0.0.1"
    if isinstance(field, models.FileField):
        return "moved/%%s.png" %% field.name
    raise TypeError("no value for %%r" %% field)


def make(name):
    key = "compare." + name.lower()
    if key in made:
        return made[key]
    model = apps.get_model("compare", name)
    making.add(key)
    values = {}
    for n, field in enumerate(model._meta.concrete_fields):
        if field.primary_key and field.auto_created:
            continue
        if field.is_relation:
            target = field.related_model._meta
            if field.null and target.label_lower in making:
                continue  # a nullable link back into a row being made: left empty
            values[field.name] = (made["auth.user"] if target.label_lower == "auth.user"
                                  else make(target.object_name))
        else:
            values[field.name] = value(field, n)
    # a check constraint may tie a choice to other fields: try the choices until one row is valid
    chosen = [f for f in model._meta.concrete_fields if f.choices]
    for combination in itertools.product(*[[c[0] for c in f.choices] for f in chosen]):
        values.update({f.name: v for f, v in zip(chosen, combination)})
        try:
            with transaction.atomic():
                made[key] = model.objects.create(**values)
                return made[key]
        except IntegrityError:
            continue
    raise AssertionError("no valid row of %%s" %% name)


ContentType = apps.get_model("contenttypes", "ContentType")
for name in moved:
    make(name)
    content_types[name] = ContentType.objects.get_or_create(app_label="compare", model=name.lower())[0].pk
print(json.dumps({"rows": {name: made["compare." + name.lower()].pk for name in moved},
                  "content_types": content_types}))
"""

# Run after the move, with today's models: every field of every moved row, as text.
READ = """
import json
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
moved = json.loads('%(moved)s')
out = {"rows": {}, "content_types": {}, "tables": {}}
for name, label in moved.items():
    model = apps.get_model(label, name)
    row = model.objects.get()
    out["rows"][name] = {f.attname: str(getattr(row, f.attname)) for f in model._meta.concrete_fields}
    out["content_types"][name] = ContentType.objects.get_for_model(model).pk
    out["tables"][name] = model._meta.db_table
print(json.dumps(out))
"""

# The same fields, read before the move through the old state, to compare with.
READ_BEFORE = """
import json
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
apps = MigrationExecutor(connection).loader.project_state(("compare", "%(before)s")).apps
moved = json.loads('%(moved)s')
out = {}
for name in moved:
    model = apps.get_model("compare", name)
    row = model.objects.get()
    out[name] = {f.attname: str(getattr(row, f.attname)) for f in model._meta.concrete_fields}
print(json.dumps(out))
"""


def moved_models():
    from django.apps import apps

    return {model.__name__: model._meta.app_label for model in apps.get_models()
            if model._meta.app_label not in ("compare", "auth", "admin", "contenttypes", "sessions")
            and model._meta.db_table.startswith("compare_")}


def shell(env, code):
    """The last line the code printed (the shell may print a line of its own first)."""
    try:
        done = manage(env, "shell", "-c", code)
    except subprocess.CalledProcessError as failed:
        raise AssertionError(failed.stderr[-3000:]) from None
    return json.loads(done.stdout.strip().splitlines()[-1])


def upgrade(env):
    moved = moved_models()
    assert {"Team", "ApiToken", "Verdict", "ShareLink", "RouteDay", "Batch", "Benchmark", "Webhook",
            "ResultCheck", "WorkerHeartbeat"} <= set(moved)
    names = json.dumps(list(moved))
    manage(env, "migrate", "--noinput", "compare", BEFORE_THE_MOVE)
    seeded = shell(env, SEED % {"before": BEFORE_THE_MOVE, "moved": names})
    before = shell(env, READ_BEFORE % {"before": BEFORE_THE_MOVE, "moved": names})
    manage(env, "migrate", "--noinput")
    after = shell(env, READ % {"moved": json.dumps(moved)})

    assert set(after["rows"]) == set(moved) and len(moved) >= 28
    for name in moved:
        assert after["rows"][name] == before[name], name  # every field of the row, unchanged
        assert after["content_types"][name] == seeded["content_types"][name], name
        assert after["tables"][name] == f"compare_{name.lower()}"
    manage(env, "migrate", "--check")


def test_models_moved_to_the_feature_apps_keep_every_row_on_sqlite(tmp_path):
    upgrade(app_env(tmp_path / "var"))


@pytest.mark.services
def test_models_moved_to_the_feature_apps_keep_every_row_on_postgresql(tmp_path):
    with postgres_database("ipc_moves") as (url, _):
        upgrade(app_env(tmp_path / "var", DATABASE_URL=url))

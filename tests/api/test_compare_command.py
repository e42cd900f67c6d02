"""`manage.py compare` does what the API does: --json prints the comparison as the API answers it
(blind as for the user it runs as), --image/--mask make an edit checked like an upload, and
--prompt-set runs a batch."""

import json

import pytest
from django.core.management import CommandError, call_command

from compare.batches.models import Batch
from compare.engine import execution
from compare.models import Comparison, Result
from compare.teams.models import Team

from tests.helpers import image_bytes

pytestmark = pytest.mark.django_db


def run_json(capsys, *args):
    call_command("compare", *args, "--user", "alice", "--json")
    return json.loads(capsys.readouterr().out)


def test_json_is_the_comparison_as_the_api_gives_it(capsys, alice, alice_client, settings):
    settings.SITE_URL = "https://compare.example"
    body = run_json(capsys, "a fox", "--route", "sandbox:fast", "--route", "sandbox:steady", "--quality", "low")
    comparison = Comparison.objects.get()
    assert body["id"] == comparison.pk and body["status"] == "running" and body["prompt"] == "a fox"
    assert [r["route"] for r in body["results"]] == ["sandbox:fast", "sandbox:steady"]
    assert body["url"] == f"https://compare.example/comparisons/{comparison.pk}/"
    api = alice_client.get(f"/api/comparisons/{comparison.pk}").json()
    assert set(body) == set(api) and set(body["results"][0]) == set(api["results"][0])
    assert body["review"] == api["review"] and body["params"] == api["params"]


def test_json_keeps_a_blind_comparison_blind(capsys, alice):
    call_command("compare", "a fox", "--route", "sandbox:fast", "--route", "sandbox:steady", "--user", "alice",
                 "--quality", "low")
    capsys.readouterr()
    comparison = Comparison.objects.get()
    Comparison.objects.filter(pk=comparison.pk).update(blind=True)
    for result in comparison.results.all():
        execution.execute_result(result.pk)
    from compare.management.commands.compare import Asking
    from compare.api.presenters import comparison_dict

    seen = comparison_dict(Comparison.objects.get(), Asking(alice))
    assert seen["review"]["masked"] and all(r["route"] is None for r in seen["results"])
    assert "sandbox:" not in json.dumps(seen, default=str)


def test_an_edit_takes_images_and_a_mask_from_files(capsys, alice, tmp_path):
    photo, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    photo.write_bytes(image_bytes(64, 64))
    mask.write_bytes(_transparent_png())
    body = run_json(capsys, "make it night", "--route", "sandbox:fast", "--image", str(photo), "--image", str(photo),
                    "--mask", str(mask), "--quality", "low")
    assert sorted(ref["role"] for ref in body["references"]) == ["image", "image", "mask"]
    assert Comparison.objects.get().references.count() == 3


def _transparent_png():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_bad_or_missing_input_file_is_a_clear_error_and_nothing_runs(alice, tmp_path):
    with pytest.raises(CommandError, match="Cannot read .*nowhere.png"):
        call_command("compare", "a fox", "--route", "sandbox:fast", "--image", str(tmp_path / "nowhere.png"),
                     "--user", "alice")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(CommandError, match="Invalid comparison"):
        call_command("compare", "a fox", "--route", "sandbox:fast", "--image", str(text), "--user", "alice")
    assert not Comparison.objects.exists()


def test_a_prompt_set_runs_a_batch(capsys, alice):
    from compare.batches.prompt_sets import find_set

    body = run_json(capsys, "--prompt-set", "typography", "--route", "sandbox:fast", "--quality", "low")
    batch = Batch.objects.get()
    prompts = find_set("typography", None).prompts
    assert body["id"] == batch.pk and body["prompt_set"] == {"id": "typography", "name": batch.source_name}
    assert len(body["comparison_ids"]) == len(prompts) == len(body["rows"])
    assert [c.prompt for c in Comparison.objects.order_by("batch_item__position")] == [p.text for p in prompts]
    assert batch.team == Team.personal_for(alice) and Result.objects.count() == len(prompts)


def test_a_prompt_set_is_found_by_name_and_a_table_is_printed(capsys, alice):
    call_command("compare", "--prompt-set", "Dense text and typography", "--route", "sandbox:fast", "--user", "alice",
                 "--quality", "low")
    out = capsys.readouterr().out
    batch = Batch.objects.get()
    assert out.startswith(f"Batch #{batch.pk}: ") and out.count("ROUTE") == batch.items.count()


def test_a_prompt_set_refuses_what_a_batch_cannot_take(alice):
    with pytest.raises(CommandError, match="No prompt set 'nothing'.*typography"):
        call_command("compare", "--prompt-set", "nothing", "--route", "sandbox:fast", "--user", "alice")
    with pytest.raises(CommandError, match="give no PROMPT"):
        call_command("compare", "a fox", "--prompt-set", "typography", "--route", "sandbox:fast", "--user", "alice")
    with pytest.raises(CommandError, match="Invalid batch"):
        call_command("compare", "--prompt-set", "typography", "--user", "alice")
    with pytest.raises(CommandError, match="Give a PROMPT"):
        call_command("compare", "--route", "sandbox:fast", "--user", "alice")
    assert not Batch.objects.exists() and not Comparison.objects.exists()

import pytest
from django.core.management import CommandError, call_command

from compare.models import Comparison
from compare.teams.models import ApiToken

pytestmark = pytest.mark.django_db


def test_api_token_prints_a_token_that_authenticates(alice, capsys, client):
    call_command("api_token", "alice")
    token = capsys.readouterr().out.strip()
    assert ApiToken.objects.user_for(token) == alice
    assert client.get("/api/routes", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_api_token_for_nobody_is_an_error():
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("api_token", "nobody")


def test_compare_validates_like_the_form(alice):
    with pytest.raises(CommandError, match="routes: Pick at least one route"):
        call_command("compare", "a fox", "--user", "alice")
    with pytest.raises(CommandError, match="sandbox:steady cannot do size 1280x720"):
        call_command("compare", "a fox", "--user", "alice", "--route", "sandbox:steady", "--size", "1280x720")
    assert not Comparison.objects.exists()


def test_compare_creates_the_comparison_and_prints_its_table(capsys, alice):
    call_command("compare", "a fox", "--route", "sandbox:fast", "--route", "sandbox:slow", "--quality", "low",
                 "--n", "2", "--user", "alice")
    out = capsys.readouterr().out
    comparison = Comparison.objects.get()
    assert f"Comparison #{comparison.pk}: /comparisons/{comparison.pk}/" in out
    assert "ROUTE" in out and "sandbox:slow  queued" in out and "$0.00 est." in out
    assert comparison.params["n"] == 2 and comparison.created_by == alice


def test_compare_needs_a_user_it_can_run_as():
    with pytest.raises(CommandError, match="No user named 'admin': pass --user"):
        call_command("compare", "a fox", "--route", "sandbox:fast")


def test_serve_starts_the_worker_again_when_it_exits():
    import io
    import threading

    from compare.management.commands.serve import Command

    class Exited:
        returncode = 1

        def poll(self):
            return 1

    class Running:
        def poll(self):
            return None

    started = []
    command = Command(stdout=io.StringIO(), stderr=io.StringIO())
    command.workers, command.stopping = [Running(), Exited()], threading.Event()

    def start_worker(n):
        started.append(n)
        command.stopping.set()  # one restart is enough for the test
        return Running()

    command.start_worker = start_worker
    command.keep_worker_alive()
    assert started == [1] and "starting it again" in command.stderr.getvalue()  # the one that exited
    assert isinstance(command.workers[1], Running)

"""/healthz: what a load balancer asks before sending users to this process."""

from unittest import mock

from django.db import OperationalError
from django.urls import reverse


def test_it_answers_ok_without_signing_in_when_the_database_answers(client, db):
    answer = client.get(reverse("healthz"))
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in answer["Cache-Control"]


def test_it_answers_503_when_the_database_does_not(client, db):
    with mock.patch(
        "django.db.backends.utils.CursorWrapper.execute",
        side_effect=OperationalError("connection refused"),
    ):
        answer = client.get(reverse("healthz"))
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "database": "unavailable"}


def test_it_takes_only_get(client, db):
    assert client.post(reverse("healthz")).status_code == 405

"""Two checks of one suspicious serial at the same moment raise one flag, not two."""

import threading

import pytest
from django.db import connection, connections

from inventory import services
from inventory.models import CounterfeitFlag

from ..inventory.factories import SerialProductFactory


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite lets one writer in at a time, so two checks cannot race there",
)
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_checks_count_against_one_open_flag(monkeypatch):
    product = SerialProductFactory(gtin="09501101530003")
    both_looked = threading.Barrier(2, timeout=10)
    save = CounterfeitFlag.save

    def save_after_both_looked(flag, *args, **kwargs):
        # Both checks found no open flag; now both insert one.
        both_looked.wait()
        return save(flag, *args, **kwargs)

    monkeypatch.setattr(CounterfeitFlag, "save", save_after_both_looked)
    errors = []

    def run(address):
        try:
            services.verification_check_record(
                gtin=product.gtin, serial="FAKE-1", via="link", client_address=address
            )
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(f"198.51.100.{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    flag = CounterfeitFlag.objects.get()
    assert (flag.reason, flag.checks) == ("unknown_serial", 2)

"""A confirmation racing holds and quarantines of the same assets never deadlocks.

Every writer locks assets first (by primary key) and the audit chain head last, so the
confirmation, the hold and the quarantine take turns; whoever comes second sees what the
first did and is refused cleanly (a 409), never with a deadlock (a 500).
"""

import threading

import pytest
from django.db import connection

from archive.errors import ArchiveError
from archive.holds import legal_hold_place
from archive.models import Asset
from archive.services import collection_get_or_create
from retention.services import asset_quarantine
from tests.api.conftest import candidate_of, token_client, upload_pair
from tests.archive.people import compliance_officer, person

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 4


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("lock order races need PostgreSQL")
    from retention.policies import policies_seed_defaults

    policies_seed_defaults()


def _together(calls):
    start, outcomes = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index, call):
        start.wait()
        try:
            outcomes[index] = call()
        except ArchiveError as exc:
            outcomes[index] = exc.code
        except Exception as exc:  # noqa: BLE001 - a deadlock or any crash fails the test
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_confirmations_racing_holds_and_quarantines_never_deadlock():
    collection = collection_get_or_create(name="Race")
    curator = person("curator", "dedup.review_duplicates", "dedup.view_duplicatecandidate")
    officer = compliance_officer()
    operator = person("operator", "retention.move_asset")
    pairs = [candidate_of(*upload_pair(collection, 800 + i)) for i in range(ROUNDS)]
    statuses, crashes = [], []
    for index, pair in enumerate(pairs):
        client = token_client(curator)
        client.raise_request_exception = False
        big, small = pair.asset_a, pair.asset_b

        def confirm(pair=pair, client=client):
            body = {"decision": "confirm", "canonical": pair.asset_a_id}
            return client.post(
                f"/api/v1/candidates/{pair.pk}/decision/", body, format="json"
            ).status_code

        def hold(asset=small if index % 2 else big):
            legal_hold_place(
                matter_reference=f"M-{asset.pk}", reason="race", assets=[asset], actor=officer
            )
            return "held"

        def quarantine(asset=big if index % 2 else small):
            asset_quarantine(asset=Asset.objects.get(pk=asset.pk), reason="race", actor=operator)
            return "quarantined"

        outcome = _together([confirm, hold, quarantine, confirm])
        statuses += [o for o in outcome if isinstance(o, int)]
        crashes += [o for o in outcome if isinstance(o, Exception)]

    assert crashes == []
    assert 500 not in statuses
    assert set(statuses) <= {200, 409}

"""Admin pages: campaign progress with its burn-down, the options report, certificate downloads."""

import hashlib
from datetime import date

import pytest
from django.urls import reverse

from retention.campaigns import campaign_save
from retention.models import Campaign, DestructionCertificate
from retention.purge import disposition_execute

pytestmark = pytest.mark.django_db


def test_the_progress_page_shows_the_figures_and_the_burndown(client, staff, collection, clock):
    campaign = Campaign(
        name="Field clean-up", owner=staff, starts_on=date(2031, 7, 1), deadline=date(2031, 7, 31)
    )
    campaign_save(campaign=campaign, collections=[collection], actor=staff)
    client.force_login(staff)

    page = client.get(reverse("admin:retention_campaign_progress", args=[campaign.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
    assert "Projected finish" in html
    changelist = client.get(reverse("admin:retention_campaign_changelist"))
    assert "progress and burn-down" in changelist.content.decode()


def test_the_options_page_reports_a_collection(client, staff, asset, collection):
    client.force_login(staff)
    url = reverse("admin:retention_options_report") + f"?collection={collection.pk}"

    page = client.get(url)

    assert page.status_code == 200
    assert "purge" in page.content.decode() and "cold" in page.content.decode()
    assert (
        client.get(reverse("admin:retention_options_report") + "?collection=x").status_code == 200
    )


def test_the_disposition_page_links_its_certificate_and_the_download_is_as_issued(
    client, staff, approved, approver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        disposition_execute(request=approved, actor=approver)
    certificate = DestructionCertificate.objects.get()
    client.force_login(staff)

    page = client.get(reverse("admin:retention_dispositionrequest_change", args=[approved.pk]))
    download = reverse("admin:retention_destructioncertificate_download", args=[certificate.pk])
    assert download in page.content.decode()

    html = client.get(download + "?as=html")
    assert hashlib.sha256(html.content).hexdigest() == certificate.html_sha256
    body = client.get(download + "?as=json")
    assert hashlib.sha256(body.content).hexdigest() == certificate.json_sha256
    detail = client.get(
        reverse("admin:retention_destructioncertificate_change", args=[certificate.pk])
    )
    assert "digests match audit event" in detail.content.decode()

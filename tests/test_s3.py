"""Archived media on an S3-compatible store, against a real S3 endpoint over HTTP.

The endpoint is moto's server mode (ThreadedMotoServer): it speaks the S3 REST protocol over a
socket, so boto3 and django-storages sign, send and parse real requests, presigned URLs
included, exactly as with a hosted bucket. moto is the S3 stand-in boto3's own users test with
and ships on PyPI; MinIO would need a binary download that this machine cannot make.
"""

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from django.test import Client
from django.urls import reverse
from moto.server import ThreadedMotoServer

from generations.archive import delete_files, rebuild_renditions
from generations.models import ArchiveState, Output
from generations.tasks import archive_outputs
from tests.conftest import free_port
from tests.factories import completed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BUCKET = "lumaweb-archive"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A fresh private bucket, and the studio's default storage on it as settings.py sets it up
    for AWS_STORAGE_BUCKET_NAME."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "lumaweb-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "lumaweb-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = boto3.resource("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    store = s3.Bucket(BUCKET)
    if store.creation_date is not None:
        store.objects.all().delete()
        store.delete()
    store.create()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "default_acl": "private",
                "querystring_auth": True,
                "querystring_expire": 300,
                "file_overwrite": False,
            },
        },
    }
    return store


def keys(store) -> set[str]:  # type: ignore[no-untyped-def]
    return {item.key for item in store.objects.all()}


def archived_output(owner) -> Output:  # type: ignore[no-untyped-def]
    generation = completed(owner, "a lighthouse kept in a bucket")
    archive_outputs.call(str(generation.uuid))
    output = generation.outputs.get()
    assert output.archive_state == ArchiveState.ARCHIVED, output.archive_error
    return output


def test_an_output_is_archived_with_its_thumbnails_into_the_bucket(owner, bucket) -> None:
    output = archived_output(owner)
    stored = output.stored_files
    assert output.file.name in stored
    assert len(stored) >= 2, "the original and its thumbnails"
    assert set(stored) <= keys(bucket)
    original = bucket.Object(output.file.name).get()["Body"].read()
    assert original.startswith(b"\x89PNG")
    assert len(original) == output.size_bytes


def test_media_goes_to_a_logged_in_person_by_a_short_signed_link(
    owner, owner_client: Client, bucket
) -> None:
    output = archived_output(owner)
    url = reverse("media", args=[output.thumb.name])
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    response = owner_client.get(url)
    assert response.status_code == 302
    signed = response["Location"]
    query = parse_qs(urlsplit(signed).query)
    assert query["Signature"]
    assert 0 < int(query["Expires"][0]) - time.time() <= 300  # querystring_expire
    served = httpx.get(signed)
    assert served.status_code == 200
    assert served.content == bucket.Object(output.thumb.name).get()["Body"].read()
    # Without its signature the private object is refused.
    unsigned = signed.split("?")[0]
    assert httpx.get(unsigned).status_code == 403


def test_a_download_comes_from_the_bucket_under_a_recognisable_name(
    owner, owner_client: Client, bucket
) -> None:
    output = archived_output(owner)
    response = owner_client.get(reverse("generation-download", args=[output.generation.uuid, 0]))
    assert response.status_code == 302
    signed = response["Location"]
    assert urlsplit(signed).path.endswith(output.file.name)
    served = httpx.get(signed)
    assert served.status_code == 200
    assert served.headers["Content-Disposition"].startswith('attachment; filename="a-lighthouse')
    assert served.content == bucket.Object(output.file.name).get()["Body"].read()


def test_thumbnails_are_rebuilt_from_the_bucket_and_the_old_ones_go(owner, bucket) -> None:
    output = archived_output(owner)
    before = set(output.stored_files)
    rebuild_renditions(output)
    output.refresh_from_db()
    after = set(output.stored_files)
    assert output.file.name in after
    assert after <= keys(bucket)
    assert not (before - after) & keys(bucket), "replaced thumbnails are deleted"


def test_deleting_and_purging_remove_every_object_of_an_output(owner, bucket) -> None:
    output = archived_output(owner)
    names = output.stored_files
    assert set(names) <= keys(bucket)
    delete_files(names)
    assert not set(names) & keys(bucket)
    delete_files(names)  # purging what is already gone is quiet

"""Publish a clean-dataset release: record it (audited), then write its files."""

from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from archive.actors import actor_name, actor_require, actor_user
from archive.audit import after_audited, audit_record, audited
from archive.errors import ArchiveError
from archive.models import Collection
from dedup.models import DatasetRelease
from dedup.releases import bagit, ocfl
from dedup.releases.notice import notice_build
from dedup.releases.rocrate import release_created
from dedup.releases.selection import release_select

PERMISSION = "dedup.publish_release"


def releases_root() -> Path:
    """Where the admin and the API write releases (the command takes any folder)."""
    default = Path(settings.BASE_DIR) / "var" / "releases"
    return Path(getattr(settings, "KEEPSAKE_RELEASES_ROOT", default))


def release_output_default(*, dataset: str, release_format: str) -> Path:
    return releases_root() / f"{slugify(dataset) or 'dataset'}-{release_format}"


def dataset_name_default(collections: list[Collection]) -> str:
    return " + ".join(sorted(c.name for c in collections))


def _series(release: DatasetRelease) -> list[DatasetRelease]:
    earlier = DatasetRelease.objects.filter(dataset=release.dataset, version__lt=release.version)
    return [*earlier.select_related("released_by").order_by("version"), release]


def release_manifest_digest(release: DatasetRelease) -> str:
    """SHA-256 of the release's manifest (OCFL inventory.json, or manifest-sha256.txt)."""
    if release.format == DatasetRelease.Format.OCFL:
        return ocfl.manifest_digest(_series(release))
    return bagit.manifest_digest(release)


def release_write(*, release: DatasetRelease) -> Path:
    """Write (or finish writing) release's files under its output folder, from its row."""
    root = Path(release.output)
    if release.format == DatasetRelease.Format.OCFL:
        ocfl.ocfl_write(root=root, releases=_series(release))
        written = root
    else:
        written = bagit.bag_write(root=root, release=release)
    if release.written_at is None:
        release.written_at = timezone.now()
        DatasetRelease.objects.filter(pk=release.pk).update(written_at=release.written_at)
    return written


def _check(collections, release_format: str, output: str, dataset: str) -> None:
    if not collections:
        raise ArchiveError("Name at least one collection to release.", code="invalid")
    if release_format not in DatasetRelease.Format.values:
        raise ArchiveError(
            f"Unknown release format {release_format!r}: use ocfl or bagit.", code="invalid"
        )
    if not str(output).strip():
        raise ArchiveError("Name the folder the release is written to.", code="invalid")
    if len(dataset) > 200:
        raise ArchiveError("A dataset name has at most 200 characters.", code="invalid")


def _previous(dataset: str, release_format: str, released_at) -> DatasetRelease | None:
    previous = (
        DatasetRelease.objects.select_for_update(no_key=True)
        .filter(dataset=dataset)
        .order_by("-version")
        .first()
    )
    if previous is None:
        return None
    if previous.format != release_format:
        raise ArchiveError(
            f"{dataset} is published as {previous.get_format_display()}; "
            "name another dataset for another format.",
            code="conflict",
        )
    if previous.written_at is None:
        raise ArchiveError(
            f"Release v{previous.version} of {dataset} was recorded but its files were not "
            f"all written; finish it first (release_dataset --dataset {dataset!r} --finish).",
            code="conflict",
        )
    if released_at < previous.released_at:
        raise ArchiveError(
            f"A release cannot be dated before the previous one (v{previous.version}, "
            f"{release_created(previous)}).",
            code="invalid",
        )
    return previous


@audited
def _release_record(*, collections, output, actor, dataset, release_format, released_at):
    previous = _previous(dataset, release_format, released_at)
    version = previous.version + 1 if previous else 1
    selection = release_select(collections=collections, on=released_at.date())
    release = DatasetRelease(
        dataset=dataset,
        version=version,
        format=release_format,
        scope=[{"id": c.pk, "name": c.name} for c in sorted(collections, key=lambda c: c.name)],
        released_at=released_at,
        released_by=actor_user(actor),
        actor_name=actor_name(actor),
        output=str(output),
        items=selection.items,
        left_out=selection.left_out,
    )
    release.notice = notice_build(
        dataset=dataset,
        version=version,
        released_at=release_created(release),
        previous=previous,
        items=selection.items,
        left_out=selection.left_out,
    )
    release.manifest_sha256 = release_manifest_digest(release)
    release.full_clean(validate_constraints=False)
    try:
        # Two releases of one dataset at once: the unique version keeps one.
        with transaction.atomic():
            release.save()
    except IntegrityError as exc:
        raise ArchiveError(
            f"Another release of {dataset} was recorded meanwhile; try again.", code="conflict"
        ) from exc
    audit_record(
        actor=actor,
        verb="dataset.released",
        obj=release,
        after={
            "dataset": dataset,
            "version": version,
            "format": release_format,
            "manifest_sha256": release.manifest_sha256,
            "files": len(selection.items),
            "left_out": len(selection.left_out),
            "output": str(output),
        },
    )
    after_audited(lambda: release_write(release=release))
    return release


def dataset_release(
    *,
    collections: list[Collection],
    output: str | Path | None = None,
    actor,
    dataset: str = "",
    release_format: str = DatasetRelease.Format.OCFL,
    released_at=None,
) -> DatasetRelease:
    """Publish the next release of the clean dataset of collections and write its files.

    The release is recorded and audited (with its manifest's SHA-256) in one transaction;
    its files are written after it (streamed copies, verified), from the row alone.
    """
    actor_require(actor, PERMISSION, "publish a clean-dataset release")
    collections = list(collections)
    dataset = (dataset or dataset_name_default(collections)).strip()
    if output is None:
        output = release_output_default(dataset=dataset, release_format=release_format)
    _check(collections, release_format, str(output), dataset)
    released_at = (released_at or timezone.now()).replace(microsecond=0)
    return _release_record(
        collections=collections,
        output=Path(output).resolve(),
        actor=actor,
        dataset=dataset,
        release_format=release_format,
        released_at=released_at,
    )


def release_finish(*, dataset: str, actor) -> DatasetRelease:
    """Write the files of the last release of dataset again (after a crash or a move)."""
    actor_require(actor, PERMISSION, "publish a clean-dataset release")
    release = DatasetRelease.objects.filter(dataset=dataset).order_by("-version").first()
    if release is None:
        raise ArchiveError(f"No release of {dataset} is recorded.", code="not_found")
    release_write(release=release)
    return release

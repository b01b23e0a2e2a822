"""The RO-Crate 1.1 metadata file of a release: the dataset, its files and their licences."""

import datetime as dt

from django.conf import settings
from PIL import Image

RO_CRATE_CONTEXT = "https://w3id.org/ro/crate/1.1/context"
RO_CRATE_SPEC = "https://w3id.org/ro/crate/1.1"
METADATA_FILE = "ro-crate-metadata.json"

# Licence types that go into a release, as the licences' canonical addresses.
LICENCE_URLS = {
    "cc0": ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0 1.0"),
    "public_domain": ("https://creativecommons.org/publicdomain/mark/1.0/", "Public Domain Mark"),
    "cc_by": ("https://creativecommons.org/licenses/by/4.0/", "CC BY 4.0"),
    "cc_by_sa": ("https://creativecommons.org/licenses/by-sa/4.0/", "CC BY-SA 4.0"),
    "cc_by_nc": ("https://creativecommons.org/licenses/by-nc/4.0/", "CC BY-NC 4.0"),
    "cc_by_nc_sa": ("https://creativecommons.org/licenses/by-nc-sa/4.0/", "CC BY-NC-SA 4.0"),
    "cc_by_nd": ("https://creativecommons.org/licenses/by-nd/4.0/", "CC BY-ND 4.0"),
    "cc_by_nc_nd": ("https://creativecommons.org/licenses/by-nc-nd/4.0/", "CC BY-NC-ND 4.0"),
}
PUBLISHER_ID = "#publisher"


def _one_or_many(values: list):
    # RO-Crate 1.1 recommends a single value rather than a one-element list.
    return values[0] if len(values) == 1 else values


def _ref(identifier: str) -> dict:
    return {"@id": identifier}


def _licence_id(licence_type: str) -> str:
    return LICENCE_URLS.get(licence_type, (f"#licence-{licence_type}", licence_type))[0]


def _file_licences(item: dict) -> list[str]:
    types = {lic["licence_type"] for r in item["metadata"]["records"] for lic in r["licences"]}
    return sorted(_licence_id(t) for t in types)


def _file_entity(item: dict) -> dict:
    records = item["metadata"]["records"]
    first = records[0]
    entity = {
        "@id": item["path"],
        "@type": "File",
        "name": first["title"] or item["path"].rsplit("/", 1)[-1],
        "contentSize": str(item["size"]),
        "encodingFormat": Image.MIME.get(item["metadata"]["format"], "application/octet-stream"),
        "sha256": item["sha256"],
        "license": _one_or_many([_ref(url) for url in _file_licences(item)]),
        "subjectOf": _ref(f"metadata/{item['asset']}.json"),
    }
    descriptions = sorted({r["description"] for r in records if r["description"]})
    if descriptions:
        entity["description"] = "\n\n".join(descriptions)
    identifiers = sorted({r["accession_number"] for r in records if r["accession_number"]})
    if identifiers:
        entity["identifier"] = _one_or_many(identifiers)
    creators = sorted({r["creator"] for r in records if r["creator"]})
    if creators:
        entity["creditText"] = "; ".join(creators)
    dates = sorted({r["date_start"] for r in records if r["date_start"]})
    if dates:
        entity["dateCreated"] = dates[0]
    keywords = sorted({s for r in records for s in r["subjects"]})
    if keywords:
        entity["keywords"] = ", ".join(keywords)
    return entity


def _metadata_entity(item: dict) -> dict:
    return {
        "@id": f"metadata/{item['asset']}.json",
        "@type": "File",
        "name": f"Consolidated metadata and licences of {item['path']}",
        "encodingFormat": "application/json",
        "about": _ref(item["path"]),
    }


def _licence_entities(items: list[dict]) -> list[dict]:
    types = {
        lic["licence_type"]
        for i in items
        for r in i["metadata"]["records"]
        for lic in r["licences"]
    }
    entities = []
    for licence_type in sorted(types):
        url, name = LICENCE_URLS.get(licence_type, (_licence_id(licence_type), licence_type))
        entities.append(
            {
                "@id": url,
                "@type": "CreativeWork",
                "name": name,
                "description": f"{name}; the terms of each record are in its metadata file.",
            }
        )
    return entities


def _publisher() -> dict:
    entity = {
        "@id": PUBLISHER_ID,
        "@type": "Organization",
        "name": getattr(settings, "KEEPSAKE_RELEASE_PUBLISHER", "Keepsake archive"),
    }
    url = getattr(settings, "KEEPSAKE_RELEASE_PUBLISHER_URL", "")
    if url:
        entity["url"] = url
    return entity


def crate_build(*, release, generated: list[tuple[str, str, str]]) -> dict:
    """The crate of release; generated lists (path, name, media type) of the other files."""
    items = release.items
    collections = ", ".join(c["name"] for c in release.scope)
    parts = [item["path"] for item in items] + [f"metadata/{i['asset']}.json" for i in items]
    parts += [path for path, _name, _type in generated]
    licences = sorted({url for item in items for url in _file_licences(item)})
    root = {
        "@id": "./",
        "@type": "Dataset",
        "name": release.dataset,
        "description": (
            f"Clean dataset of {collections}: one file per confirmed duplicate group (its "
            f"canonical) and every other record whose licence allows reuse; release "
            f"v{release.version} with {len(items)} files."
        ),
        "version": str(release.version),
        "datePublished": release_created(release),
        "publisher": _ref(PUBLISHER_ID),
        "author": _ref(PUBLISHER_ID),
        "hasPart": _one_or_many([_ref(path) for path in sorted(parts)]),
    }
    if licences:
        root["license"] = _one_or_many([_ref(url) for url in licences])
    graph = [
        {
            "@id": METADATA_FILE,
            "@type": "CreativeWork",
            "conformsTo": _ref(RO_CRATE_SPEC),
            "about": _ref("./"),
        },
        root,
        _publisher(),
        *(_file_entity(item) for item in items),
        *(_metadata_entity(item) for item in items),
        *(
            {"@id": path, "@type": "File", "name": name, "encodingFormat": media}
            for path, name, media in generated
        ),
        *_licence_entities(items),
    ]
    return {"@context": RO_CRATE_CONTEXT, "@graph": graph}


def release_created(release) -> str:
    """The release's recorded time as RFC 3339 UTC, whole seconds (in every manifest)."""
    return release.released_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

"""Run the peers' validators on a release; executed by the validators' own interpreter.

`python release_validators.py ocfl|bagit|crate PATH` (or `ocfl-crate OBJECT vN`) prints
the validator's findings and exits 0 only when PATH is valid. The validators live in a
virtualenv of their own (requirements-validators.txt), so this file imports nothing from
Keepsake.

roc-validator resolves the crate's JSON-LD @context over HTTP (its offline mode only
reads a cache that a run online filled). Here the context is served from the copy that
ro-crate-py ships in its wheel, and every other remote document is refused, so the check
never touches the network.
"""

import json
import sys
from importlib import resources
from pathlib import Path

RO_CRATE_CONTEXTS = (
    "https://w3id.org/ro/crate/1.1/context",
    "https://w3id.org/ro/crate/1.2/context",
)


def ocfl_check(path: str) -> bool:
    import ocfl

    passed, validator = ocfl.Object().validate(
        objdir=path, log_warnings=True, log_errors=True, check_digests=True
    )
    print(str(validator))
    return bool(passed)


def bagit_check(path: str) -> bool:
    import bagit

    try:
        bagit.Bag(path).validate(completeness_only=False)
    except bagit.BagError as error:
        print(f"invalid bag: {error}")
        for detail in getattr(error, "details", None) or ():
            print(f"  {detail}")
        return False
    print("valid bag")
    return True


def _context_offline() -> None:
    import requests
    from rocrate_validator.utils.http import HttpRequester

    shipped = json.loads(
        resources.files("rocrate").joinpath("data/ro-crate.jsonld").read_text("utf-8")
    )
    body = json.dumps({"@context": shipped["@context"]}).encode("utf-8")

    def get(self, url, *args, **kwargs):
        if url.rstrip("/") not in RO_CRATE_CONTEXTS:
            raise RuntimeError(f"refusing to fetch {url}: the crate check runs offline")
        response = requests.Response()
        response.status_code, response.url, response._content = 200, url, body
        response.headers["Content-Type"] = "application/ld+json"
        return response

    def refuse(self, url, *args, **kwargs):
        raise RuntimeError(f"refusing to reach {url}: the crate check runs offline")

    HttpRequester.get = get
    for method in ("head", "post", "put", "delete", "options", "patch", "fetch_fresh"):
        setattr(HttpRequester, method, refuse)


def crate_check(path: str) -> bool:
    from rocrate_validator import services
    from rocrate_validator.models import Severity

    _context_offline()
    result = services.validate(
        {
            "rocrate_uri": str(Path(path).resolve()),
            "profile_identifier": "ro-crate-1.1",
            "requirement_severity": Severity.RECOMMENDED,
        }
    )
    for issue in result.get_issues():
        print(f"{issue.severity.name}: {issue.check.identifier} {issue.message}")
    return result.passed()


def ocfl_crate_check(path: str, version: str) -> bool:
    """Check the crate of one version of an OCFL object, as ocfl-py extracts it."""
    import tempfile

    import ocfl

    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / version
        ocfl.Object().extract(objdir=path, version=version, dstdir=str(target))
        return crate_check(str(target))


if __name__ == "__main__":
    kind, target, *rest = sys.argv[1:]
    checks = {
        "ocfl": ocfl_check,
        "bagit": bagit_check,
        "crate": crate_check,
        "ocfl-crate": ocfl_crate_check,
    }
    sys.exit(0 if checks[kind](target, *rest) else 1)

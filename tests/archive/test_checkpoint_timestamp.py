"""RFC 3161 timestamps on checkpoints, from a local time-stamping authority (`openssl ts`).

The authority answers on loopback only; nothing leaves the machine. Transactional tests:
the token is fetched after the seal committed, never inside a transaction.
"""

import http.server
import io
import subprocess
import threading

import pytest
from django.db import transaction

from archive import verifier
from archive.audit import audit_record
from archive.audit_export import AuditExportFilter, audit_bundle_write
from archive.checkpoints import checkpoint_seal, signing_key, timestamp_fetch
from archive.errors import ArchiveError
from archive.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)

TSA_CONFIG = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)  # noqa: S603,S607


def make_authority(directory, name: str, key: str) -> None:
    directory.mkdir()
    newkey = ["-newkey", "rsa:2048"] if key == "rsa" else ["-newkey", "ec", "-pkeyopt"]
    if key == "ec":
        newkey.append("ec_paramgen_curve:prime256v1")
    openssl(
        "req", "-x509", *newkey, "-nodes", "-keyout", "tsa.key", "-out", "tsa.crt",
        "-subj", f"/CN={name}", "-days", "3650",
        "-addext", "extendedKeyUsage=critical,timeStamping",
        cwd=directory,
    )  # fmt: skip
    (directory / "serial").write_text("01\n")
    (directory / "tsa.cnf").write_text(TSA_CONFIG.format(dir=directory))


class Authority(http.server.BaseHTTPRequestHandler):
    directory = None
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 - http.server's name
        query = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            (self.directory / "query.tsq").write_bytes(query)
            openssl(
                "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "query.tsq",
                "-out", "reply.tsr", cwd=self.directory,
            )  # fmt: skip
            reply = (self.directory / "reply.tsr").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture(params=["ec", "rsa"])
def tsa(request, tmp_path, settings):
    directory = tmp_path / "tsa"
    make_authority(directory, "Keepsake test TSA", request.param)
    handler = type("Handler", (Authority,), {"directory": directory})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.KEEPSAKE_AUDIT_TSA_URL = f"http://127.0.0.1:{server.server_address[1]}/"
    settings.KEEPSAKE_AUDIT_TSA_CERT_FILE = str(directory / "tsa.crt")
    yield directory
    server.shutdown()
    server.server_close()


def record(n=1):
    for i in range(n):
        with transaction.atomic():
            audit_record(actor=None, verb="test.event", object_type="thing", object_id=i)


def cert(path):
    return verifier._load_cert(str(path))


def export(**kwargs) -> io.BytesIO:
    out = io.BytesIO()
    audit_bundle_write(fp=out, filters=AuditExportFilter(), fmt="jsonl", actor=None, **kwargs)
    return out


def test_a_seal_is_timestamped_after_it_commits_and_the_export_carries_it(tsa):
    record(3)

    checkpoint = checkpoint_seal()

    checkpoint.refresh_from_db()
    assert checkpoint.timestamp_token
    assert AuditEvent.objects.filter(verb="audit.timestamped").count() == 1
    stamp = verifier.timestamp_verify(
        bytes(checkpoint.timestamp_token), checkpoint.note.encode(), [cert(tsa / "tsa.crt")]
    )
    assert stamp.signer.subject.rfc4514_string() == "CN=Keepsake test TSA"
    record(1)
    report = verifier.bundle_verify(
        export(), public_keys=[signing_key().public_raw], tsa_certs=[cert(tsa / "tsa.crt")]
    )
    assert report.ok, report.problems
    assert any(note.startswith("timestamped ") for note in report.notes)


def test_a_timestamp_for_other_data_is_refused(tsa, monkeypatch):
    from archive import checkpoints

    record(2)
    token = timestamp_fetch(b"some other checkpoint")
    checkpoint = checkpoint_seal(timestamp=False)
    real = checkpoints.timestamp_request
    # An authority (or a man in the middle) answering for another digest than asked.
    monkeypatch.setattr(
        checkpoints, "timestamp_request", lambda digest, nonce: real(b"\x00" * 32, nonce)
    )

    with pytest.raises(verifier.VerifyError, match="for other data than this checkpoint"):
        verifier.timestamp_verify(token, checkpoint.note.encode(), [cert(tsa / "tsa.crt")])
    with pytest.raises(ArchiveError, match="for other data"):
        checkpoints.checkpoint_timestamp(checkpoint=checkpoint)
    checkpoint.refresh_from_db()
    assert checkpoint.timestamp_token is None


def test_a_tampered_token_or_an_untrusted_authority_is_refused(tsa, tmp_path):
    record(1)
    checkpoint = checkpoint_seal()
    checkpoint.refresh_from_db()
    token = bytearray(checkpoint.timestamp_token)
    make_authority(tmp_path / "other", "Someone else", "ec")

    with pytest.raises(verifier.VerifyError, match="not signed by a trusted"):
        verifier.timestamp_verify(
            bytes(token), checkpoint.note.encode(), [cert(tmp_path / "other" / "tsa.crt")]
        )
    token[-10] ^= 0xFF  # inside the signature
    with pytest.raises(verifier.VerifyError):
        verifier.timestamp_verify(bytes(token), checkpoint.note.encode(), [])


def test_an_unreachable_authority_leaves_the_seal_in_place(settings, db):
    settings.KEEPSAKE_AUDIT_TSA_URL = "http://127.0.0.1:9/"  # discard port: nothing listens
    record(2)

    checkpoint = checkpoint_seal()

    assert checkpoint.size == 2 and checkpoint.timestamp_token is None
    assert not AuditEvent.objects.filter(verb="audit.timestamped").exists()


def test_the_scheduled_seal_stamps_a_checkpoint_the_authority_missed(tsa, settings):
    from archive.checkpoints import checkpoint_seal_task

    url = settings.KEEPSAKE_AUDIT_TSA_URL
    settings.KEEPSAKE_AUDIT_TSA_URL = "http://127.0.0.1:9/"
    record(2)
    missed = checkpoint_seal()
    settings.KEEPSAKE_AUDIT_TSA_URL = url

    outcome = checkpoint_seal_task()

    missed.refresh_from_db()
    assert missed.timestamp_token and "(timestamped)" in outcome

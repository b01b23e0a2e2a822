"""python manage.py seal_audit — seal the audit log into a signed checkpoint, or show one."""

import json

from django.core.management.base import BaseCommand, CommandError

from archive.actors import SYSTEM
from archive.checkpoints import (
    checkpoint_covering,
    checkpoint_proof,
    checkpoint_seal,
    checkpoint_timestamp,
    signing_key,
)
from archive.errors import ArchiveError


class Command(BaseCommand):
    help = (
        "Seal the audit log up to its chain head: an RFC 9162 Merkle tree over every event, "
        "its size and root signed with the archive's Ed25519 key, after checking the "
        "previous checkpoint and a consistency proof from it. Also scheduled "
        "(setup_schedules). --public-key prints the key to publish; --prove N prints the "
        "checkpoint covering event #N and the event's inclusion proof."
    )

    def add_arguments(self, parser):
        parser.add_argument("--public-key", action="store_true", help="print the public key")
        parser.add_argument("--prove", type=int, metavar="N", help="prove event #N")
        parser.add_argument("--no-timestamp", action="store_true", help="skip the TSA")

    def handle(self, *args, **options):
        try:
            if options["public_key"]:
                self.stdout.write(signing_key().public_pem(), ending="")
                return
            if options["prove"] is not None:
                return self._prove(options["prove"])
            checkpoint = checkpoint_seal(actor=SYSTEM, timestamp=False)
            if checkpoint is None:
                self.stdout.write("nothing to seal: the audit trail is empty")
                return
            if not options["no_timestamp"] and checkpoint.timestamp_token is None:
                checkpoint = self._stamp(checkpoint)
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"checkpoint #{checkpoint.size}"))
        self.stdout.write(checkpoint.note, ending="")

    def _stamp(self, checkpoint):
        from django.conf import settings

        if not settings.KEEPSAKE_AUDIT_TSA_URL:
            return checkpoint
        try:
            return checkpoint_timestamp(checkpoint=checkpoint, actor=SYSTEM)
        except ArchiveError as exc:
            self.stderr.write(f"not timestamped: {exc.message}")
            return checkpoint

    def _prove(self, sequence: int) -> None:
        checkpoint = checkpoint_covering(sequence)
        if checkpoint is None:
            raise CommandError(f"no checkpoint covers event #{sequence} yet: run seal_audit")
        proof = {
            "sequence": sequence,
            "checkpoint": checkpoint.note,
            "path": checkpoint_proof(sequence=sequence, checkpoint=checkpoint),
        }
        self.stdout.write(json.dumps(proof, indent=2))

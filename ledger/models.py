"""Ledger tables. Every one is append-only: the database refuses UPDATE and DELETE on them
(triggers, see ledger.triggers), and in production the application's database role holds
only INSERT and SELECT on them (see ledger.roles)."""

from __future__ import annotations

from django.db import models


class KeyUse(models.TextChoices):
    STATEMENT = "statement", "statement"
    LEDGER = "ledger", "ledger"
    WITNESS = "witness", "witness"


class LedgerKey(models.Model):
    """A registered SM2 public key: a cache of its ``ledger.key.registered`` entry.

    The key state lives in the chain (ledger.protocol.keystate); these rows are written by
    the append path in the same transaction as the entry they mirror, never changed, and
    ``verify_ledger`` reports any row that disagrees with the entries. ``owner`` is a
    participant code, the ledger's origin for the ledger's own keys, or the department code
    of a witness. A key that was revoked or replaced has its :class:`KeyEnd`.
    """

    key_id = models.CharField(max_length=64, unique=True)
    owner = models.CharField(max_length=128, db_index=True)
    name = models.CharField(max_length=128, help_text="name in note signature lines")
    use = models.CharField(max_length=16, choices=KeyUse.choices, default=KeyUse.STATEMENT)
    pem = models.TextField()
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    replaces = models.CharField(max_length=64, blank=True, help_text="key id it rotates out")
    registered_seq = models.BigIntegerField(unique=True)

    class Meta:
        ordering = ["registered_seq"]

    def __str__(self) -> str:
        return f"{self.owner}:{self.key_id[:16]}"


class KeyEnd(models.Model):
    """Where a key stopped being live: the seq of the entry that revoked or replaced it.

    The key is still live for that entry itself (it may sign its own revocation or its
    successor's registration), and for no later one.
    """

    class How(models.TextChoices):
        REVOKED = "revoked", "revoked"
        REPLACED = "replaced", "replaced"

    key = models.OneToOneField(LedgerKey, on_delete=models.PROTECT, primary_key=True,
                               related_name="end")
    seq = models.BigIntegerField()
    how = models.CharField(max_length=16, choices=How.choices)
    reason = models.TextField(blank=True, help_text="the revocation's reason, or the "
                              "successor's key id")

    def __str__(self) -> str:
        return f"{self.key_id} {self.how} at {self.seq}"


class CustodialKey(models.Model):
    """A private key the server holds for its owner, SM4-GCM sealed under the master key."""

    key = models.OneToOneField(LedgerKey, on_delete=models.PROTECT, primary_key=True,
                               related_name="custody")
    sealed = models.BinaryField()


class Entry(models.Model):
    """One ledger entry: ``data`` holds its exact canonical bytes (UTF-8 JSON).

    The other columns repeat what ``data`` says, for queries; ``verify_ledger`` checks them
    against the bytes, and whatever must be trusted is read from ``data`` itself.
    """

    seq = models.BigIntegerField(primary_key=True)
    leaf_hash = models.CharField(max_length=64)
    prev = models.CharField(max_length=64)
    data = models.TextField()
    kind = models.CharField(max_length=128, db_index=True)
    actor = models.CharField(max_length=128, db_index=True)
    subject = models.CharField(max_length=512, db_index=True)
    key_id = models.CharField(max_length=64, db_index=True)
    nonce = models.CharField(max_length=512)
    commitment = models.CharField(max_length=64, help_text="statement.payload")
    statement_time = models.DateTimeField()
    recorded = models.DateTimeField(db_index=True)
    pending_id = models.BigIntegerField(null=True, unique=True,
                                        help_text="the queued statement it integrated, if any")

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["actor", "nonce"], name="ledger_entry_actor_nonce"),
            models.CheckConstraint(condition=models.Q(seq__gte=0), name="ledger_entry_seq_gte_0"),
        ]
        verbose_name_plural = "entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"


class Payload(models.Model):
    """The canonical payload beside its entry, with the salt of its commitment.

    ``statement.payload`` is SM3(salt || data); the salt is base64 of 16 random bytes, kept
    here and exported with the payload, never in the statement. ``restricted`` ones are
    withheld on export from readers without the right to see the subject.
    """

    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, primary_key=True,
                                 related_name="payload_row")
    data = models.TextField()
    salt = models.CharField(max_length=24)
    restricted = models.BooleanField(default=False)


class Pending(models.Model):
    """A statement accepted but not yet integrated: queued in the transaction of the change it
    records, checked already (format, signature, key, time, nonce), waiting for the
    integrator to give it its seq (ledger.integrator). Deleted once integrated.

    ``queued_at`` is when the ledger accepted it: the entry's ``recorded`` is that time, or
    the previous entry's if later. ``problem`` is set if the integrator could not integrate
    it at its position (never expected: the health check reports it).
    """

    statement = models.TextField(help_text="the canonical statement bytes")
    signature = models.CharField(max_length=512)
    payload = models.TextField(help_text="the canonical payload bytes")
    salt = models.CharField(max_length=24)
    restricted = models.BooleanField(default=False)
    actor = models.CharField(max_length=128)
    nonce = models.CharField(max_length=512)
    key_id = models.CharField(max_length=64)
    queued_at = models.DateTimeField()
    problem = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "pending statements"


class Nonce(models.Model):
    """Every (actor, nonce) the ledger has taken, by an entry or by a queued statement: the
    one unique index both ways into the ledger go through, so that a nonce is used once."""

    actor = models.CharField(max_length=128)
    nonce = models.CharField(max_length=512)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["actor", "nonce"], name="ledger_nonce_once"),
        ]


class IntegratorLease(models.Model):
    """Who integrates this ledger now: a long-running integrator holds the lease and renews
    it; another waits until it expires, so that two never run at once."""

    ledger = models.CharField(max_length=128, primary_key=True)
    holder = models.CharField(max_length=128)
    expires = models.DateTimeField()


class MerkleNode(models.Model):
    """The hash of a complete subtree (level >= 1), stored when it closes.

    ``position`` packs (level, index) as ``level << 48 | index`` so a proof fetches all
    the nodes it needs with one ``IN`` query.
    """

    position = models.BigIntegerField(primary_key=True)
    hash = models.CharField(max_length=64)

    LEVEL_SHIFT = 48

    @classmethod
    def pack(cls, level: int, index: int) -> int:
        return (level << cls.LEVEL_SHIFT) | index

    @classmethod
    def unpack(cls, position: int) -> tuple[int, int]:
        return position >> cls.LEVEL_SHIFT, position & ((1 << cls.LEVEL_SHIFT) - 1)


class Checkpoint(models.Model):
    """A signed tree head; ``note`` is the ledger-signed note (witness lines are added
    from cosignatures when served)."""

    size = models.BigIntegerField(unique=True)
    root = models.CharField(max_length=64)
    note = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["size"]
        get_latest_by = "size"

    def __str__(self) -> str:
        return f"checkpoint {self.size}"


class Cosignature(models.Model):
    """A witness's cosignature of a checkpoint, verified with its registered key when stored.

    ``line`` is the note signature line ``\u2014 <witness> <base64(blob)>`` served after the
    ledger's own; ``timestamp`` is the witness's time (seconds) inside the blob.
    """

    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT,
                                   related_name="cosignatures")
    witness = models.CharField(max_length=128)
    key_id = models.CharField(max_length=64)
    timestamp = models.BigIntegerField()
    line = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["checkpoint__size", "witness"]
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "witness"],
                                    name="ledger_cosignature_checkpoint_witness"),
        ]

    def __str__(self) -> str:
        return f"{self.witness} cosigned {self.checkpoint_id}"


class EvidenceKind(models.TextChoices):
    FORK = "fork", "fork"
    INCONSISTENT = "inconsistent", "inconsistent"
    REFUSED = "refused", "refused"


class WitnessEvidence(models.Model):
    """A witness refused one of this ledger's checkpoints: split-view evidence to alert on.

    ``fork``: the witness cosigned another root for this size; ``inconsistent``: the
    consistency proof from what it cosigned does not verify; ``refused``: any other
    refusal (bad signature, unknown ledger, malformed request). Kept once per witness,
    checkpoint and kind.
    """

    witness = models.CharField(max_length=128, db_index=True)
    checkpoint_size = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=EvidenceKind.choices)
    status = models.IntegerField(help_text="the witness's HTTP status")
    reason = models.TextField()
    note = models.TextField(help_text="the checkpoint note presented to the witness")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["witness", "checkpoint_size", "kind"],
                                    name="ledger_witnessevidence_once"),
        ]
        verbose_name_plural = "witness evidence"

    def __str__(self) -> str:
        return f"{self.witness}: {self.kind} at size {self.checkpoint_size}"

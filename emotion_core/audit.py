"""The audit log: who did what, when and from where (sign-ins, enrollments, calibrations, forgets,
deletions, exports and refused actions), kept when emotion records are deleted.

People's names appear only in the `subject` and `actor` columns; forgetting a person replaces
them there by a pseudonym (a salted hash; the salt is kept in the database), so that erasure
stays complete while the entries still show that something happened.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Double, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .database import checkpoint, database_error, shared_engine

OK, REFUSED, FAILED = "ok", "refused", "failed"
PSEUDONYM_PREFIX = "person-"

metadata = MetaData()
audit_table = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", Double, nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("subject", String(200), nullable=False, default=""),
    Column("outcome", String(16), nullable=False),
    Column("client", String(64), nullable=False),
    Column("detail", String(400), nullable=False, default=""),
)
salt_table = Table(
    "audit_salt",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("salt", String(64), nullable=False),
)


@dataclass(frozen=True)
class AuditEntry:
    """One audited event."""

    at: float
    actor: str
    action: str
    subject: str
    outcome: str
    client: str
    detail: str


class AuditLog:
    """The audit table in the database at `url` (created when missing)."""

    def __init__(self, url: str) -> None:
        """Open the database; `StoreError` if it cannot be used."""
        self._engine = shared_engine(url, metadata)

    def record(
        self,
        actor: str,
        action: str,
        *,
        subject: str = "",
        outcome: str = OK,
        client: str = "",
        detail: str = "",
        now: float | None = None,
    ) -> None:
        """Append one entry; `StoreError` if the database refuses it.

        Names of people go into `subject` (or `actor`), never into `detail`, so that `forget_person`
        can replace them.
        """
        values = {
            "at": time.time() if now is None else now,
            "actor": actor[:200],
            "action": action[:32],
            "subject": subject[:200],
            "outcome": outcome[:16],
            "client": client[:64],
            "detail": detail[:400],
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(audit_table).values(values))
        except SQLAlchemyError as exc:
            raise database_error("write the audit log", exc) from None

    def entries(self, limit: int = 1000) -> list[AuditEntry]:
        """The newest `limit` entries, newest first."""
        a = audit_table
        query = (
            select(a.c.at, a.c.actor, a.c.action, a.c.subject, a.c.outcome, a.c.client, a.c.detail)
            .order_by(a.c.at.desc(), a.c.id.desc())
            .limit(limit)
        )
        try:
            with self._engine.connect() as conn:
                return [AuditEntry(*row) for row in conn.execute(query)]
        except SQLAlchemyError as exc:
            raise database_error("read the audit log", exc) from None

    def pseudonym(self, name: str) -> str:
        """The stable pseudonym of `name`: a salted SHA-256, shortened."""
        digest = hashlib.sha256((self._salt() + "\0" + name).encode("utf-8")).hexdigest()
        return PSEUDONYM_PREFIX + digest[:16]

    def forget_person(self, name: str) -> str:
        """Replace `name` by its pseudonym in every entry; return the pseudonym."""
        alias = self.pseudonym(name)
        a = audit_table
        try:
            with self._engine.begin() as conn:
                conn.execute(update(a).where(a.c.subject == name).values(subject=alias))
                conn.execute(update(a).where(a.c.actor == name).values(actor=alias))
        except SQLAlchemyError as exc:
            raise database_error("pseudonymise the audit log", exc) from None
        checkpoint(self._engine)
        return alias

    def record_forget(self, name: str, actor: str, client: str) -> str:
        """The audit side of forgetting `name`: pseudonymise every entry, then record the forget
        under the pseudonym; return it."""
        alias = self.forget_person(name)
        self.record(actor, "forget", subject=alias, client=client)
        return alias

    def _salt(self) -> str:
        try:
            with self._engine.begin() as conn:
                salt = conn.execute(select(salt_table.c.salt).where(salt_table.c.id == 1)).scalar_one_or_none()
                if salt is None:
                    salt = secrets.token_hex(32)
                    conn.execute(insert(salt_table).values(id=1, salt=salt))
        except IntegrityError:  # another process stored it first
            with self._engine.connect() as conn:
                salt = conn.execute(select(salt_table.c.salt).where(salt_table.c.id == 1)).scalar_one()
        except SQLAlchemyError as exc:
            raise database_error("read the pseudonym salt", exc) from None
        return str(salt)

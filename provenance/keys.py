"""Checkpoint keys: which Ed25519 keys a ledger trusts, and the one that signs on this machine.

A ledger pins the keys whose checkpoints it trusts in its own history. The first key is pinned
by an event it signs itself (`key.trust`), at the first `audit checkpoint` or `finalize`, or by
`provenance audit keys add`; every later change (`key.trust`, `key.retire`, `key.rotate`)
carries a signature, by a key trusted at that point, over the change, the ledger's first event
and the event it follows. Nobody who can only append to the database can therefore make a key
trusted: only a holder of a trusted private key can. (Whoever can rewrite the database can
rewrite the first key event too: the checkpoints kept outside it, which a rewritten ledger's
keys no longer vouch for, and a studio's pin outside the database, `$PROVENANCE_TRUSTED_KEYS`,
show that.)

A retired key's checkpoints keep counting for the history they signed before it was retired
(a checkpoint's size says when it was taken at the earliest); one it signed later does not.

This module is the pure part (the rules over events, the statements signed) and the key files;
it never touches the database.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from provenance import schemas
from provenance.errors import CheckpointKeyMissing, KeyNotTrusted, ProvenanceError

__all__ = [
    "KEY_KINDS",
    "KeyBook",
    "KeyChange",
    "KeyRing",
    "Pins",
    "SigningKey",
    "TrustedKey",
    "TrustedKeys",
    "configured_key_path",
    "default_key_path",
    "find_trusted",
    "fingerprint",
    "key_change_payload",
    "local_key_status",
    "pins_from",
    "public_hex",
    "read_private_key",
    "read_public_key",
    "require_key_change",
    "signing_key",
    "studio_pins",
]


KEY_FILE = "checkpoint-ed25519.pem"
KEY_KINDS = ("key.trust", "key.retire", "key.rotate")
STUDIO_KEY_ENV = "PROVENANCE_CHECKPOINT_KEY"
TRUSTED_KEYS_ENV = "PROVENANCE_TRUSTED_KEYS"
FINGERPRINT_HEX = 16
"""A key is shown by the first 16 hex digits of its public key (as checkpoints carry it)."""

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX128 = re.compile(r"^[0-9a-f]{128}$")


def fingerprint(public: str) -> str:
    return public[:FINGERPRINT_HEX]


def public_hex(key: Ed25519PublicKey) -> str:
    raw: bytes = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


# ---------------------------------------------------------------------------------------------
# Key files


def default_key_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "provenance" / KEY_FILE


def configured_key_path(path: Path | None) -> Path:
    """`--key`, else $PROVENANCE_CHECKPOINT_KEY (a studio-wide key), else the user's config folder."""
    if path is not None:
        return path
    studio = os.environ.get(STUDIO_KEY_ENV)
    return Path(studio) if studio else default_key_path()


def _where(path: Path | None) -> str:
    """How the key path was chosen, for messages."""
    if path is not None:
        return "named by --key"
    if os.environ.get(STUDIO_KEY_ENV):
        return f"named by ${STUDIO_KEY_ENV}"
    return f"the default, as neither --key nor ${STUDIO_KEY_ENV} is given"


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file at `path` (which must exist)."""
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ProvenanceError(f"Cannot read the checkpoint key {path} ({exc.strerror}).") from None
    except (ValueError, TypeError) as exc:
        raise ProvenanceError(
            f"{path} is not an unencrypted Ed25519 private key in PEM ({exc}). Point --key at "
            "the checkpoint key."
        ) from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ProvenanceError(f"{path} holds a key that is not Ed25519. Use --key.")
    return loaded


def save_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write a new key to `path` (0600, never over an existing file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)


def read_public_key(text: str | Path) -> str:
    """A public key (hex) given as 64 hex digits, or as a PEM file holding either half."""
    if isinstance(text, str) and _HEX64.match(text.strip().lower()):
        return text.strip().lower()
    path = Path(text)
    if not path.is_file():
        raise ProvenanceError(
            f"{str(text)!r} is neither a checkpoint key (64 hex digits of a public key, as "
            "`provenance audit keys` lists them) nor a PEM key file."
        )
    data = path.read_bytes()
    try:
        if b"PUBLIC KEY" in data:
            public = serialization.load_pem_public_key(data)
            if isinstance(public, Ed25519PublicKey):
                return public_hex(public)
        else:
            private = serialization.load_pem_private_key(data, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return public_hex(private.public_key())
    except (ValueError, TypeError):
        pass
    raise ProvenanceError(f"{path} is not an Ed25519 key in PEM (its private or public half).")


# ---------------------------------------------------------------------------------------------
# The studio's pin outside the database


@dataclass(frozen=True)
class Pins:
    """Keys a studio trusts, given outside the database: no key the ledger trusts may be missing
    from them, and only their checkpoints count."""

    keys: frozenset[str]
    source: str
    """Where they were given (`--key FILE`, `$PROVENANCE_TRUSTED_KEYS`), for messages."""


def pins_from(key: Path | None) -> Pins | None:
    """`--key` of `audit verify` (one key, either half), else $PROVENANCE_TRUSTED_KEYS."""
    if key is not None:
        if not key.exists():
            raise ProvenanceError(
                f"No key at {key}. Give the path of the checkpoint key (its private or public "
                "half in PEM)."
            )
        return Pins(frozenset({read_public_key(key)}), f"--key {key}")
    return studio_pins()


def studio_pins() -> Pins | None:
    """$PROVENANCE_TRUSTED_KEYS: public keys (64 hex digits) separated by commas or spaces, or
    the path of a file listing them, one a line (`#` starts a comment)."""
    value = os.environ.get(TRUSTED_KEYS_ENV, "").strip()
    if not value:
        return None
    tokens = [t for t in re.split(r"[\s,]+", value.lower()) if t]
    if all(_HEX64.match(t) for t in tokens):
        return Pins(frozenset(tokens), f"${TRUSTED_KEYS_ENV}")
    path = Path(value)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProvenanceError(
            f"${TRUSTED_KEYS_ENV} is {value!r}: neither public keys (64 hex digits) nor a "
            f"readable file of them ({getattr(exc, 'strerror', None) or exc})."
        ) from None
    keys = set()
    for number, line in enumerate(lines, 1):
        word = line.split("#", 1)[0].strip().lower()
        if not word:
            continue
        if not _HEX64.match(word):
            raise ProvenanceError(
                f"Line {number} of {path} (${TRUSTED_KEYS_ENV}) is not a public key: one key a "
                "line, 64 hex digits, as `provenance audit keys` lists them."
            )
        keys.add(word)
    if not keys:
        raise ProvenanceError(f"{path} (${TRUSTED_KEYS_ENV}) lists no key.")
    return Pins(frozenset(keys), f"{path} (${TRUSTED_KEYS_ENV})")


# ---------------------------------------------------------------------------------------------
# Key changes: what is signed, and the rules the events must follow


def key_statement(
    ledger_id: str, after: str, kind: str, trust: Iterable[str], retire: Iterable[str]
) -> bytes:
    """What the signer of a key change signs: the change, in this ledger, right after `after`
    (the hash of the event before it), so that it cannot be replayed anywhere else."""
    body = {
        "schema": schemas.KEY_CHANGE,
        "ledger": ledger_id,
        "after": after,
        "kind": kind,
        "trust": sorted(trust),
        "retire": sorted(retire),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def key_change_payload(
    signer: Ed25519PrivateKey,
    ledger_id: str,
    after: str,
    kind: str,
    trust: Iterable[str] = (),
    retire: Iterable[str] = (),
) -> dict[str, Any]:
    """The payload of a key event, signed by `signer`."""
    trusted, retired = sorted(trust), sorted(retire)
    statement = key_statement(ledger_id, after, kind, trusted, retired)
    return {
        "trust": trusted,
        "retire": retired,
        "signed_by": public_hex(signer.public_key()),
        "signature": signer.sign(statement).hex(),
    }


@dataclass(frozen=True)
class TrustedKey:
    """A key the ledger trusts or trusted."""

    public_key: str
    added_by: int
    """The event that made it trusted."""
    signed_by: str
    """The key that signed that event (the key itself, for the first)."""
    retired_by: int | None = None
    retired_at: int | None = None
    """The position (1-based, as a checkpoint's size counts) of the event that retired it: a
    checkpoint of at least this many events was signed after it was retired."""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


@dataclass
class KeyRing:
    """The keys a ledger trusts, as its key events say, checked against the rules (and against
    the studio's pins, when given)."""

    keys: dict[str, TrustedKey] = field(default_factory=dict)
    """Every key the ledger trusts or trusted, in the order they were added."""
    problems: list[str] = field(default_factory=list)
    pins: Pins | None = None

    @property
    def current(self) -> list[TrustedKey]:
        return [key for key in self.keys.values() if key.retired_by is None]

    @property
    def pinned(self) -> bool:
        """The ledger has pinned a key (its first key event was valid)."""
        return bool(self.keys)

    def describe_current(self) -> str:
        shown = [f"{k.fingerprint} (event #{k.added_by})" for k in self.current]
        if not shown and self.pins is not None:
            shown = [fingerprint(k) for k in sorted(self.pins.keys)]
        return ", ".join(shown) or "none"

    def may_sign(self, public: str) -> bool:
        """Is `public` a key whose new checkpoints count (and who may change the keys)?"""
        if self.pins is not None and public not in self.pins.keys:
            return False
        if not self.keys:
            return self.pins is not None
        key = self.keys.get(public)
        return key is not None and key.retired_by is None

    def checkpoint_problem(self, public: str, size: int, provisional: str | None) -> str | None:
        """Why a checkpoint of `size` events signed by `public` does not count, or None.

        `provisional` is the key about to be pinned as the ledger's first (by the finalize or
        checkpoint under way), when the ledger pins none yet."""
        shown = fingerprint(public)
        if self.pins is not None and public not in self.pins.keys:
            return (
                f"it is signed by key {shown}, which {self.pins.source} does not list (it "
                f"lists {', '.join(fingerprint(k) for k in sorted(self.pins.keys))}): only the "
                "studio's keys vouch for history"
            )
        if not self.keys:
            if self.pins is not None or public == provisional:
                return None
            return (
                f"it is signed by key {shown}, but this ledger trusts no checkpoint key yet: if "
                "that is the studio's key, pin it with `provenance audit keys add --key "
                "STUDIO_KEY`; otherwise remove this file from the checkpoints folder"
            )
        key = self.keys.get(public)
        if key is None:
            return (
                f"it is signed by key {shown}, which this ledger does not trust (it trusts "
                f"{self.describe_current()}): if it is the studio's, add it with `provenance "
                f"audit keys add {public} --key TRUSTED_KEY`; otherwise remove this file"
            )
        if key.retired_at is not None and size >= key.retired_at:
            return (
                f"it is signed by key {shown} over {size} events, but that key was retired by "
                f"event #{key.retired_by} (position {key.retired_at}): it vouches only for "
                "history signed before then"
            )
        return None


class KeyBook:
    """Builds a KeyRing from the ledger's events, oldest first (only key events matter)."""

    def __init__(self, pins: Pins | None = None) -> None:
        self.ring = KeyRing(pins=pins)

    def add(
        self,
        event_id: int,
        position: int,
        kind: str,
        payload: Mapping[str, Any],
        prev_hash: str,
        ledger_id: str,
    ) -> None:
        if kind not in KEY_KINDS:
            return
        problem = self._apply(event_id, position, kind, payload, prev_hash, ledger_id)
        if problem is not None:
            self.ring.problems.append(
                f"event #{event_id} ({kind}) {problem}; the change is not applied"
            )

    def _apply(
        self,
        event_id: int,
        position: int,
        kind: str,
        payload: Mapping[str, Any],
        prev_hash: str,
        ledger_id: str,
    ) -> str | None:
        trust, retire = payload.get("trust"), payload.get("retire")
        signer, signature = payload.get("signed_by"), payload.get("signature")
        if not (
            _hex_list(trust)
            and _hex_list(retire)
            and isinstance(signer, str)
            and _HEX64.match(signer)
            and isinstance(signature, str)
            and _HEX128.match(signature)
        ):
            return "is not a key change this version of provenance reads"
        assert isinstance(trust, list) and isinstance(retire, list)
        if position == 1:
            return "is the ledger's first event: a key change must follow the ledger's creation"
        keys = self.ring.keys
        if not keys:
            if trust != [signer] or retire:
                return (
                    "is the ledger's first key change but is not a key signing its own pinning: "
                    "the first trusted key signs itself"
                )
        elif signer not in keys or keys[signer].retired_by is not None:
            shown = ", ".join(fingerprint(k) for k in trust + retire)
            return (
                f"changes keys {shown} on the signature of key {fingerprint(signer)}, which this "
                "ledger did not trust then: only a trusted key can change which keys are trusted"
            )
        statement = key_statement(ledger_id, prev_hash, kind, trust, retire)
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(signer)).verify(
                bytes.fromhex(signature), statement
            )
        except (InvalidSignature, ValueError):
            return (
                f"carries a signature of key {fingerprint(signer)} that does not verify over this "
                "change at this place in this ledger"
            )
        if any(k in keys for k in trust):
            return "trusts a key this ledger trusts or retired already"
        if any(k not in keys or keys[k].retired_by is not None for k in retire):
            return "retires a key this ledger does not trust"
        if not trust and {k.public_key for k in self.ring.current} <= set(retire):
            return "retires every trusted key, which would leave nobody able to sign"
        for public in trust:
            keys[public] = TrustedKey(public, event_id, signer)
        for public in retire:
            keys[public] = TrustedKey(
                public, keys[public].added_by, keys[public].signed_by, event_id, position
            )
        return None

    def result(self) -> KeyRing:
        """The ring, with the keys the ledger trusts that the studio's pins do not list."""
        ring = self.ring
        if ring.pins is not None:
            for key in ring.current:
                if key.public_key not in ring.pins.keys:
                    ring.problems.append(
                        f"this ledger trusts key {key.fingerprint} (event #{key.added_by}), which "
                        f"{ring.pins.source} does not list: it was made trusted in the database "
                        "without the studio's pin. If the studio added it, add it to the list"
                    )
        return ring


def _hex_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and _HEX64.match(v) for v in value)


# ---------------------------------------------------------------------------------------------
# The key that signs here


@dataclass(frozen=True)
class SigningKey:
    """The key this machine signs checkpoints with."""

    key: Ed25519PrivateKey
    path: Path
    new: bool
    """Made for a ledger that trusts no key yet, and not saved: it is written to `path` when it
    is pinned (`save`), so that a finalize refused, or one whose audit fails, leaves no key."""

    @property
    def public(self) -> str:
        return public_hex(self.key.public_key())

    def save(self) -> None:
        if not self.new:
            return
        try:
            save_private_key(self.path, self.key)
        except OSError as exc:
            raise ProvenanceError(
                f"Cannot write the new checkpoint key to {self.path} ({exc.strerror}); nothing "
                "was recorded. Run again (a key made there meanwhile is then used), or give the "
                f"studio's key with --key or ${STUDIO_KEY_ENV}."
            ) from None


def signing_key(ring: KeyRing, path: Path | None) -> SigningKey:
    """The private key this machine signs checkpoints with, for a ledger whose keys are `ring`.

    When the ledger trusts keys, it must be one of them: a missing or untrusted key is an error
    naming the trusted keys, where the key was looked for, and how to install or add one;
    nothing is created. Only for a ledger that trusts no key yet (and no studio pin) is a key
    made, for the default path, on first use: it becomes the ledger's first trusted key.
    """
    key_path = configured_key_path(path)
    explicit = path is not None or bool(os.environ.get(STUDIO_KEY_ENV))
    pinned = ring.pinned or ring.pins is not None
    if not key_path.exists():
        if pinned:
            raise CheckpointKeyMissing(
                f"This ledger trusts checkpoint key {ring.describe_current()}, but there is no "
                f"private key at {key_path} ({_where(path)}). Install the studio's key there "
                f"(mode 0600), or point --key or ${STUDIO_KEY_ENV} at it; or have someone who "
                "holds a trusted key add one of yours: `provenance audit keys add "
                "YOUR_PUBLIC_KEY --key TRUSTED_KEY`. No key was created and nothing was recorded."
            )
        if explicit:
            raise ProvenanceError(
                f"No key at {key_path} ({_where(path)}). Give the path of an existing checkpoint "
                f"key, or leave out --key (and ${STUDIO_KEY_ENV}) to use, and on first use create, "
                "the one in your config folder."
            )
        return SigningKey(Ed25519PrivateKey.generate(), key_path, new=True)
    key = read_private_key(key_path)
    public = public_hex(key.public_key())
    if pinned and not ring.may_sign(public):
        raise KeyNotTrusted(
            f"The checkpoint key at {key_path} ({_where(path)}) is key {fingerprint(public)}, "
            f"which this ledger does not trust (it trusts {ring.describe_current()}"
            + (f"; {ring.pins.source} lists the studio's keys" if ring.pins else "")
            + "). Use the studio's key (--key or "
            f"${STUDIO_KEY_ENV}), or have someone who holds a trusted key add this one: "
            f"`provenance audit keys add {public} --key TRUSTED_KEY`. Nothing was recorded."
        )
    return SigningKey(key, key_path, new=False)


# ---------------------------------------------------------------------------------------------
# Changing the trusted keys


@dataclass(frozen=True)
class KeyChange:
    """A key event just appended."""

    kind: str
    event_id: int
    event_hash: str
    trusted: list[str]
    retired: list[str]
    signed_by: str


def require_key_change(
    ring: KeyRing, signer: str, trust: Iterable[str] = (), retire: Iterable[str] = ()
) -> None:
    """Refuse a change of the trusted keys (or, with none, a checkpoint) `signer` may not sign,
    saying what would be allowed: what `KeyBook` would refuse, and what the studio's pins forbid."""
    trusting, retiring = list(trust), list(retire)
    if not ring.pinned:
        if trusting != [signer] or retiring:
            raise ProvenanceError(
                "This ledger trusts no checkpoint key yet: its first key pins itself. Run "
                "`provenance audit keys add --key KEY` with the private key to pin."
            )
    elif not ring.may_sign(signer):
        raise KeyNotTrusted(
            f"Key {fingerprint(signer)} (--key) is not one this ledger trusts now (it trusts "
            f"{ring.describe_current()}): only a trusted key signs checkpoints or changes which "
            "keys are trusted. Use the studio's key."
        )
    for public in trusting:
        known = ring.keys.get(public)
        if known is not None and known.retired_by is not None:
            raise ProvenanceError(
                f"Key {fingerprint(public)} was retired by event #{known.retired_by}: a retired "
                "key is not trusted again. Make a new key (`openssl genpkey -algorithm ed25519`)."
            )
        if known is not None:
            raise ProvenanceError(f"Key {fingerprint(public)} is trusted already.")
        if ring.pins is not None and public not in ring.pins.keys:
            raise KeyNotTrusted(
                f"Key {fingerprint(public)} is not among the studio's keys ({ring.pins.source}): "
                "add it there first, so that the ledger and the studio's pin agree."
            )
    remaining = {k.public_key for k in ring.current} - set(retiring) | set(trusting)
    if ring.pinned and not remaining:
        raise ProvenanceError(
            "That would retire every trusted key and leave nobody able to sign. Add the new key "
            "first (`provenance audit keys add`), or rotate (`provenance audit keys rotate NEW "
            "--key OLD`)."
        )


def find_trusted(ring: KeyRing, which: str) -> str:
    """The trusted key named by `which`: its public key or a fingerprint (8 hex digits or more)."""
    wanted = which.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8,64}", wanted):
        raise ProvenanceError(
            f"{which!r} does not name a key: give its fingerprint (at least 8 hex digits) or its "
            "public key, as `provenance audit keys` lists them."
        )
    found = [k for k in ring.keys.values() if k.public_key.startswith(wanted)]
    if len(found) > 1:
        raise ProvenanceError(f"{which!r} matches {len(found)} keys: give more of its hex digits.")
    if not found:
        raise ProvenanceError(
            f"This ledger trusts no key {which!r} (it trusts {ring.describe_current()})."
        )
    if found[0].retired_by is not None:
        raise ProvenanceError(
            f"Key {found[0].fingerprint} was retired already, by event #{found[0].retired_by}."
        )
    return found[0].public_key


# ---------------------------------------------------------------------------------------------
# What `audit keys` shows


@dataclass(frozen=True)
class TrustedKeys:
    """The keys a ledger trusts (and trusted), and the key this machine would sign with."""

    keys: list[TrustedKey]
    problems: list[str]
    pins: Pins | None
    signing_path: Path
    signing_key: str | None
    """The public half of the key at `signing_path`, when there is one."""
    signing_problem: str | None
    """Why this machine cannot sign checkpoints of this ledger with it, or None."""


def local_key_status(ring: KeyRing, path: Path | None) -> TrustedKeys:
    """The ring, and whether the key at `path` (as `signing_key` would find it) may sign."""
    key_path = configured_key_path(path)
    public = None
    problem = None
    if not key_path.exists():
        if ring.pinned or ring.pins is not None:
            problem = (
                f"no private key there: install one of the trusted keys there ({_where(path)}), "
                "or have one of yours added"
            )
        else:
            problem = (
                "no key there yet: the first `provenance audit checkpoint` or `finalize` makes "
                "one there and pins it as this ledger's first key"
            )
    else:
        try:
            public = public_hex(read_private_key(key_path).public_key())
        except ProvenanceError as exc:
            problem = str(exc)
        else:
            if (ring.pinned or ring.pins is not None) and not ring.may_sign(public):
                problem = "this ledger does not trust it: it cannot sign checkpoints here"
    return TrustedKeys(
        list(ring.keys.values()), list(ring.problems), ring.pins, key_path, public, problem
    )

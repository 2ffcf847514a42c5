"""The C2PA trust list: the PEM root certificates `PROVENANCE_C2PA_TRUST_ANCHORS` names.

Checked when an ingest or a sweep starts, not when the first signed file turns up: a trust list
that cannot be used is a configuration error the user should see at once, whatever the files
hold. Loaded once per version of the file.
"""

from __future__ import annotations

import functools
import os

from provenance.errors import ProvenanceError

__all__ = ["TRUST_ANCHORS_ENV", "checked_anchors", "configured_anchors"]


TRUST_ANCHORS_ENV = "PROVENANCE_C2PA_TRUST_ANCHORS"


def configured_anchors() -> bytes | None:
    """The trust list the environment names, checked; None when it names none."""
    configured = os.environ.get(TRUST_ANCHORS_ENV, "").strip()
    if not configured:
        return None
    try:
        found = os.stat(configured)
        return _read_anchors(configured, found.st_mtime_ns, found.st_size)
    except OSError as exc:
        raise ProvenanceError(
            f"{TRUST_ANCHORS_ENV} names {configured!r}, which cannot be read ({exc.strerror}). "
            f"Point it at a PEM file of trusted root certificates, or unset it."
        ) from exc


def checked_anchors(pem: bytes, where: str = "The C2PA trust anchors") -> bytes:
    """`pem` when it is a bundle of PEM certificates, else an error that says how to fix it.

    c2pa-rs skips a certificate it cannot parse without a word, which would leave every signer
    quietly untrusted: the whole bundle is refused here instead.
    """
    # Loaded here, where a trust list is given: an ingest or sweep without one needs no
    # cryptography (what a command imports is the time it takes to start).
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise ProvenanceError(
            f"{where} are not PEM certificates. Give a PEM bundle of root certificates "
            f"(-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----), or unset "
            f"{TRUST_ANCHORS_ENV}."
        ) from None
    return pem


@functools.lru_cache(maxsize=4)
def _read_anchors(path: str, mtime_ns: int, size: int) -> bytes | None:
    with open(path, "rb") as handle:
        pem = handle.read()
    return (
        checked_anchors(pem, f"The certificates in {path} ({TRUST_ANCHORS_ENV})") if pem else None
    )

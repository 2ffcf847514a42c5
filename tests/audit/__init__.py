"""Tests of provenance.audit, the tamper-evident log: `audit verify` against an insider with the
database, the pinned checkpoint keys (provenance.keys), and the RFC 9162 Merkle tree
(provenance.merkle)."""

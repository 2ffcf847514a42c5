"""The tamper-evident log: recompute the event chain, Merkle checkpoints signed with Ed25519, verify.

The chain (each event's SHA-256 over its canonical form and the previous hash) shows whether a
row was edited or removed from the middle. It cannot show a truncated tail or a chain recomputed
from scratch: signed checkpoints kept outside the database can. A checkpoint is the number of
events and the RFC 9162 Merkle root over their hashes; a later log must extend it, which a
consistency proof shows.

The parts, one module each: `chain` (the events, their hashes and links, their export),
`checkpoints` (making, keeping, reading and checking them), `rebuilt_state` (the state rebuilt
from the events against the tables), `legacy` (events written before row commitments, by the
old rules) and `verification` (the whole audit in one pass, and the trusted keys).
"""

from provenance.audit.chain import ChainState, export_events
from provenance.audit.checkpoints import make_checkpoint, stored_checkpoints, write_checkpoint
from provenance.audit.verification import AuditReport, audit, read_key_ring

__all__ = [
    "AuditReport",
    "ChainState",
    "audit",
    "export_events",
    "make_checkpoint",
    "read_key_ring",
    "stored_checkpoints",
    "write_checkpoint",
]

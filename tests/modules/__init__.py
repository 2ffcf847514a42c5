"""Tests of the modules at provenance/'s top level that need no ledger: files written whole
(atomic), hashing and the stat cache (fingerprint), origins, show roots, scanning, and reading
deliveries. The top-level workflows that need a ledger are tested in tests/workflows/."""

"""Tests of provenance.policy: the delivery policy as a pure function, and the gate's promises
tried as a hostile vendor would, on both ledgers."""

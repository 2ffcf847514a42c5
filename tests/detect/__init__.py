"""Tests of provenance.detect, what files say about themselves: C2PA credentials, generator
metadata and XMP, every generator family's fixtures, perceptual prints, which files are read
(sniff), detector plug-ins, reading without the network, and the signals in the ledger."""

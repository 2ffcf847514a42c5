"""Tests of provenance.scenes (the scene readers, pure) and of the lineage read from scene files
into the ledger (provenance.scene_lineage)."""

"""Tests of provenance.interchange: W3C PROV export and ASC MHL histories both ways."""

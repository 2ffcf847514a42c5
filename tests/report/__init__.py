"""Tests of provenance.report: the HTML delivery report in a real browser, its pure parts
(thumbnails, lineage pictures, escaping), and the disclosure per deliverable."""

"""Tests of the command line (cli/, installed as provenance.cli) as people use it: exit codes,
text and JSON, `python -m provenance`, start-up imports, what a new user meets, and bad or
hostile input answered with an `Error:` line naming the fix."""

"""Tests of provenance.integrations: the pyblish integrator run by pyblish itself."""

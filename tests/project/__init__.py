"""Checks on the checkout as a whole: the import rules and `__all__` of every module
(docs/architecture.md), and the wheel as it installs."""

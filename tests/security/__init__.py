"""A package (unlike tests/compare) so that tests/security/test_budgets.py and
tests/teams/test_budgets.py can be collected in one run: pytest's default import mode
imports test files without a package by their bare file name."""

"""Checkers: run a learner's code against fixed cases and report each as ✓ or ✗ with a hint.

One module per notebook (`unary` for 04, `chat` for 08, ...), each with its exercises' rules
written beside the checker. They all stand on `workshop.checkers.support`, and none imports
another notebook's checker.
"""

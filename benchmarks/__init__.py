"""The course's benchmarks: ``make bench`` (or ``labs bench``) runs them all; see ``benchmarks/__main__.py``."""

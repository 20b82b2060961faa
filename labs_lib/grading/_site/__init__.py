"""Holds the sitecustomize that audit-mode grading kernels put on PYTHONPATH (a package so it is installed)."""

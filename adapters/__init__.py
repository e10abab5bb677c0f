"""Adapters: every side effect of aimcore (files, registries, Kubernetes, the command line)."""

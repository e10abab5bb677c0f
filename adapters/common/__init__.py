"""Plumbing every room shares: retry backoff, JSON logs, the inspector's type, which objects a change
reaches (dependents) and the discovery log a dry run prints (jobrunner). It imports no other room."""

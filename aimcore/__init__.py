"""aimcore: AIM model management as pure reconciliation functions."""

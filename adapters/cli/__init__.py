"""The `aimcore` command line (DESIGN's contract: flags, output formats, exit codes) and its output.
It may import every other room; nothing imports it."""

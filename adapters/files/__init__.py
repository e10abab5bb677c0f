"""The files users give aimcore: manifests (YAML or JSON, with line numbers for every field) and image
facts files (what a registry would answer). Reads files; imports only `common`."""

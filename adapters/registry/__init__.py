"""OCI registries: the client that reads an image's manifest and config (deadlines, retries, auth),
credentials from pull Secrets, and the inspector that answers the core's inspection requests with
them. Imports only `common`."""

"""Kubernetes: the API client, the watch-fed store, the executor that turns plans into server-side
applies, the work queue, leader election and the operator loop. May import `common`, `files` (image
facts for `--images`) and `registry`; never `memory` or `cli`."""

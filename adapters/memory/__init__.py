"""The in-memory cluster behind `plan` and `simulate`: it admits objects as an API server would,
collects garbage, and plays the Job runner, KServe and a Gateway; and the rounds that run the core
to convergence in it. May import `common` and `files`; only `cli` (and tests) import it."""

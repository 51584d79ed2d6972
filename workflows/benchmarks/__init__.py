"""`jiedai bench …`: each benchmark runs a workload, returns a report that prints as a
Markdown table and, with `--record`, appends itself to docs/BENCHMARKS.md (`record`)."""

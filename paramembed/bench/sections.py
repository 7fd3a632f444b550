"""The bench's sections, in the order `run_bench` measures them (read by the CLI and the runner)."""

SECTIONS = ("adaptation", "batched", "raw", "photos", "training", "pretraining", "data", "app")

"""`python -m paramembed bench`: every speed figure of the project, measured side by side in one run.

One module per concern (each section is a function returning a dict; `run_bench` puts them in
one JSON report and `format_report` prints it):

- timing:      synchronised clocks, rates, percentiles
- machine:     device, threads, and the matrix-multiply FLOP/s measured here and now
- adaptation:  time to adapt to one task (median, p90) and query accuracy, per method of
               `paramembed.methods`, on the same 5-way 5-shot and 20-way 1-shot tasks; ratios of
               the gradient methods to hyper; and many tasks in one forward pass (tasks/s)
- training:    images/s and episodes/s of the real training step, beside the bound implied by the
               model's FLOPs per image and the measured matmul FLOP/s; the real training loop's
               data-wait fraction; peak GPU memory on CUDA
- data:        procedural glyph rendering images/s on one core
- app, probe:  seconds from `streamlit run` to the health endpoint; then, in fresh processes under
               AppTest, the cold first page, a new sampled task and the explorer's first open
               beside their targets, and the app process's peak resident memory
- report:      the text table;  run: `run_bench`;  cli: the subcommand

Absolute numbers depend on what else the machine is doing, so ratios inside one run are the
figures to compare across machines.
"""

from paramembed.bench.cli import add_parser

__all__ = ["add_parser"]

"""DistributedDataParallel on the CPU: two Gloo ranks train together and stay in lockstep.

Each rank runs `paramembed.training.train` in its own process, exactly as under `torchrun`
(the same RANK / WORLD_SIZE / MASTER_ADDR environment), then saves its parameters so the test
can compare them: DDP must keep every rank's copy identical, rank 1 must write nothing, the
loss must go down and a second call must resume where the first one stopped.
"""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from paramembed.config import TrainConfig, from_dict


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(out_dir: str, episodes: int) -> TrainConfig:
    return from_dict(TrainConfig, {
        "name": "ddp", "out_dir": out_dir, "episodes": episodes, "model": {"width": 16, "hidden_dim": 64, "embedding_dim": 16},
        "ways": [5], "shots": [1, 3], "queries": 5, "tasks_per_batch": 2, "lr": 3e-3, "warmup_episodes": 8,
        "val_every": 0, "val_episodes": 10, "val_ways": 5, "checkpoint_every": 0, "device": "cpu",
    })


def _rank(rank: int, world: int, port: int, out_dir: str, results: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    import torch.distributed as dist

    from paramembed import training

    models = []

    class Recorded(training.FewShotModel):  # keeps a handle on the rank's model for the comparison
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            models.append(self)

    training.FewShotModel = Recorded
    training.train(_config(out_dir, 200), resume=False, progress=False)
    training.train(_config(out_dir, 280), resume=True, progress=False)  # resumes at episode 200
    torch.save({k: v.detach().clone() for k, v in models[-1].named_parameters()}, os.path.join(results, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_stay_identical_and_learn(tmp_path):
    out_dir, results = tmp_path / "runs", tmp_path / "results"
    results.mkdir()
    mp.start_processes(_rank, args=(2, _free_port(), str(out_dir), str(results)), nprocs=2, join=True, start_method="spawn")

    a, b = torch.load(results / "rank0.pt"), torch.load(results / "rank1.pt")
    assert a.keys() == b.keys()
    for name in a:  # parameters only: batch-norm running statistics stay rank-local between DDP's broadcasts
        assert torch.equal(a[name], b[name]), f"ranks disagree on {name}"

    records = [json.loads(line) for line in (out_dir / "ddp" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    # 2 ranks x 2 tasks per step: 200 episodes are 50 steps, the resumed run adds 20 more; one
    # line per step count also shows that rank 1 wrote no metrics.
    assert [r["step"] for r in train] == list(range(10, 71, 10))
    assert train[-1]["episodes"] == 280
    first, last = train[0]["loss"], min(r["loss"] for r in train[-3:])
    assert last < first - 0.05, f"loss did not go down: {first:.3f} -> {last:.3f}"
    saved = json.loads((out_dir / "ddp" / "config.json").read_text())
    assert saved["episodes"] == 280 and saved["finished"]


def test_ranks_and_workers_draw_disjoint_batches_of_one_seed_scheme():
    from itertools import islice

    from paramembed.training import TaskStream

    config = _config("unused", 100)
    config.ways, config.shots, config.tasks_per_batch = [5], [1], 1

    def first_support(rank: int, world: int, first_step: int = 0, n: int = 3) -> list[torch.Tensor]:
        return [b.support for b in islice(iter(TaskStream(config, first_step, rank, world)), n)]

    single = first_support(0, 1, n=6)
    rank0, rank1 = first_support(0, 2), first_support(1, 2)
    # Step s of rank r is batch s * world + r of the single-process sequence.
    for s in range(3):
        assert torch.equal(rank0[s], single[2 * s]) and torch.equal(rank1[s], single[2 * s + 1])
    # Resuming at step 1 continues the same sequence.
    assert torch.equal(first_support(1, 2, first_step=1, n=1)[0], single[3])

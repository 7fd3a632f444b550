"""What the curves and train pages say about a training run, in the session's language.

The library names runs, statuses, validation data and checkpoints in English (`paramembed.curves`,
`paramembed.run_metrics`, `paramembed.run_processes`: the CLI and the logs read them too); these
build the same sentences from the same fields through the message catalog.
"""

from __future__ import annotations

from paramembed.app.messages import say
from paramembed.curves import CurveRun, RunInfo

STATUSES = ("finished", "running", "stopped", "failed", "unknown")
_DATA = {"procedural glyphs": "data_procedural_glyphs", "procedural photos": "data_procedural_photos"}


def status(name: str) -> str:
    """A run's status ("running", ...) for people."""
    return say(f"status_{name}") if name in STATUSES else name


def run_label(run: CurveRun) -> str:
    """ "shipped: hyper", "shipped backbone: conv4", or a local run's own name."""
    if run.source in ("shipped", "backbone"):
        return say(f"run_label_{run.source}", name=run.run.name)
    return run.label


def _data(info: RunInfo) -> str:
    return say(_DATA[info.data]) if info.data in _DATA else info.data  # a dataset's own name stays


def validation_label(info: RunInfo, record: dict) -> str:
    """`paramembed.curves.validation_label`: which data a validation record ran on."""
    unit = say("unit_alphabets" if info.unit == "alphabets" else "unit_classes")
    if info.holdout:
        what = (say("val_holdout", n=len(info.holdout), data=_data(info), unit=unit) if info.data
                else say("val_holdout_nodata", n=len(info.holdout), unit=unit))
    elif info.data.startswith("procedural"):
        what = say("val_procedural", data=_data(info))
    elif info.data:
        what = say("val_every_fifth", data=_data(info))
    elif record.get("data"):
        what = str(record["data"])
    else:
        what = say("val_tasks")
    ways, shots = record.get("ways"), record.get("shots")
    return say("val_with_setting", what=what, ways=ways, shots=shots) if ways and shots else what


def x_title(info: RunInfo) -> str:
    """The x axis of a stage's curves: episodes, or pre-training steps."""
    if info.stage == "pretrain":
        return say("x_pretrain_batches", n=info.batch_size) if info.batch_size else say("x_pretrain")
    return say("x_episodes")


def duration(seconds: float) -> str:
    """`paramembed.run_metrics.format_duration`: 12 s, 3 min 05 s, 1 h 02 min."""
    seconds = int(round(seconds))
    if seconds < 60:
        return say("duration_s", s=seconds)
    if seconds < 3600:
        return say("duration_min", m=seconds // 60, s=f"{seconds % 60:02d}")
    return say("duration_h", h=seconds // 3600, m=f"{seconds % 3600 // 60:02d}")


def checkpoint(info) -> str:
    """`paramembed.run_metrics.CheckpointInfo.describe`: what a run's folder holds to load."""
    if not info.exists:
        return say("no_checkpoint")
    if info.episodes is not None:
        return say("final_model_at" if info.finished else "last_checkpoint_at", episodes=info.episodes, step=info.step)
    return say("final_model_unknown" if info.finished else "last_checkpoint_unknown")


def archive_limits(limits) -> str:
    """`paramembed.data.archives.ArchiveLimits.describe`."""
    mb = 1024 * 1024
    return say("archive_limits", total_mb=f"{limits.max_total_bytes / mb:g}", member_mb=f"{limits.max_member_bytes / mb:g}",
               members=limits.max_members)

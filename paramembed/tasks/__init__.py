"""Few-shot tasks built by hand: from sampled procedural alphabets, uploads, a zip, drawings, photos.

Every way of making a task ends in the same `FewShotTask`: support images with their class, and
queries whose label may be unknown. A `TaskDraft` is the editable collection a person builds up
(add, rename and remove classes; add images; add queries); `TaskDraft.build()` checks it and
returns the task, or raises `ParamembedError` saying what is wrong. Adding files never raises:
each bad file becomes one message naming the file and the problem, and the good ones are kept.

    draft = TaskDraft()
    draft.add_class("cat"); draft.add_class("dog")
    problems = draft.add_files("cat", [("a.png", png_bytes), ...])
    task = draft.build()
    result = solve(model, task)         # TaskResult: probabilities, accuracy, adaptation time

One module per job: `limits` (what a task may hold), `images` (files and drawings), `task`
(`FewShotTask`, sampled tasks), `zips` (archives), `draft` (`TaskDraft`), `solve` (adapting),
`saved` (a task as one zip and back), `store` (drafts kept across page reloads).
"""

from paramembed.tasks.draft import TaskDraft
from paramembed.tasks.images import TaskImage, decode_files, decode_image, drawing_to_png
from paramembed.tasks.limits import JUNK_NAMES, LIMITS, QUERY_FOLDERS, TaskLimits, check_class_name
from paramembed.tasks.solve import TaskResult, preprocess_task, solve, to_display
from paramembed.tasks.task import FewShotTask, sample_task
from paramembed.tasks.zips import read_zip
from paramembed.tasks.saved import SavedTask, open_task, save_draft, save_task
from paramembed.tasks.store import DraftStore

__all__ = [
    "FewShotTask", "JUNK_NAMES", "LIMITS", "QUERY_FOLDERS", "TaskDraft", "TaskImage", "TaskLimits", "TaskResult",
    "DraftStore", "SavedTask", "open_task", "save_draft", "save_task", "check_class_name", "decode_files", "decode_image", "drawing_to_png", "preprocess_task", "read_zip", "sample_task",
    "solve", "to_display",
]

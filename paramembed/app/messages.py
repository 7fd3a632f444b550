"""The playground's sentences, in one place: each a whole sentence with named fields.

A later translation replaces this table (a message catalog): sentences are never assembled from
fragments in the page code, so each one can be translated as a whole. Use `say("key", **fields)`.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # ---- what runs (model routing)
    "running": "Running: **{model}** · **{method}** · {reads}",
    "reads_glyph": "{size}×{size} greyscale drawings",
    "reads_photo": "{size}×{size} colour photos",
    "method_has_no_model": "No {method} model reads {reads}; running **{model}** with its own method, **{own}**.",
    "compare_no_model": "No {method} model reads {reads}: it needs a model trained with {method} on such images.",
    "method_absent": "No {method} model is available (assets/models/{method} is absent); pick another method or model.",
    "pretrained_missing": "ImageNet ResNet-18 is not offered: its weights file is not on this machine. {where}",
    "measured": "**{model}** measured on {what}.",
    "not_measured": "**{model}**: no measured accuracy (only shipped models have a report in results/).",
    "reads_queries": "This model reads the queries together: each answer also depends on the other queries.",
    "reads_queries_help": "Before answering, it moves each class's weights towards the queries that probably belong to "
                          "it (a few steps of soft k-means, learned in training). Given one query at a time it answers "
                          "from the support set alone.",
    # ---- confidence
    "low_confidence": "low confidence",
    "near_chance": "This task's answers are near chance: the model is {sure} sure on average, where guessing would be "
                   "{chance}. Treat these predictions as guesses.",
    "near_chance_accuracy": "Task accuracy {accuracy} is near chance ({chance} at {ways} ways): the model cannot tell "
                            "these classes apart. Treat these predictions as guesses.",
    # ---- why this prediction
    "why_plain": "It looks most like these support images of **{label}**.",
    "why_plain_other": "It looks most like these support images of **{label}**, but the classifier chose **{predicted}** "
                       "({prob}).",
    "why_sure": "The model gives **{label}** {prob}.",
    "why_similarity": "{value:.2f}",
    "why_similarity_note": "Under each image: how similar the model finds it to the query (cosine of their features; "
                           "1 is identical).",
    "why_maths": "The maths: cosine, scale, softmax",
    "task_builder": "Task builder: classes, images and queries",
    # ---- saving and opening tasks
    "save_task": "Save task",
    "save_task_help": "a zip with one folder per class, the queries and manifest.json (labels, model, method, seed); "
                      "open it again with Open a task",
    "open_task": "Open a saved task",
    "open_task_short": "Open task",
    "opened_task": "Opened {name}: {ways} classes, {queries} queries; model **{model}**, method **{method}**.",
    "opened_sample": "Opened {name}: sampled task #{index} of seed {seed}, sampled again exactly.",
    "restored_draft": "Your task was restored after the page reloaded.",
    "pretrained_not_offered": "ImageNet ResNet-18 is not offered: its weights file is not on this machine.",
    "playground_intro": "Give a few examples per class; the model reads them and generates a classifier's weights in "
                        "one forward pass. Then it classifies the queries.",
    # ---- export
    "onnx_make": "Make an ONNX file (runs anywhere)",
    "onnx_help": "the backbone and this task's generated head in one ONNX graph, calibrated; onnxruntime runs it "
                 "without paramembed",
    "onnx_download": "Download the classifier (.onnx)",
    "onnx_caption": "Backbone + generated head + calibration in one ONNX file: input images as the model reads them, "
                    "output the class probabilities; labels and input size in its metadata.",
    # ---- presentation
    "presentation": "Presentation mode",
    "presentation_help": "larger images and text, for a projector",
}


def say(key: str, **fields) -> str:
    """The sentence `key` with its fields filled in."""
    return MESSAGES[key].format(**fields)

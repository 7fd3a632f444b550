"""The library's messages (a `ParamembedError`, a notice) in the session's language.

The library speaks English, as the command line does: its messages are searched for and pasted
into issues, and one sentence is written once, where the check is. The app shows them as they
are, marked as English in Chinese ("（英文原文）..."), except the few a class meets every time it
builds a task by hand: those are read back into their fields and said by the catalog (their
English catalog entries are the library's sentences word for word, so English pages are unchanged).
"""

from __future__ import annotations

import re

from paramembed.app.messages import say

_NAME = r"(?P<name>'.*'|\".*\")"  # a class name as the library quotes it (repr)
KNOWN = (
    (re.compile(r"a task needs at least two classes \(none yet\)"), "lib_two_classes_none"),
    (re.compile(rf"a task needs at least two classes \(only {_NAME}\)"), "lib_two_classes_only"),
    (re.compile(rf"class {_NAME} has no images: add at least one, or remove the class"), "lib_class_no_images"),
    (re.compile(rf"class {_NAME} has over (?P<n>\d+) images"), "lib_class_too_many"),
    (re.compile(rf"there is already a class named {_NAME}"), "lib_class_exists"),
    (re.compile(r"a task holds at most (?P<n>\d+) classes"), "lib_too_many_classes"),
    (re.compile(r"a class needs a name"), "lib_class_needs_name"),
)


def library_text(message: object) -> str:
    """`message` in the session's language: translated when its form is known, else the English, marked."""
    text = str(message)
    for pattern, key in KNOWN:
        found = pattern.fullmatch(text)
        if found:
            return say(key, **found.groupdict())
    return say("english_original", detail=text)

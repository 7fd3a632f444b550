"""Classes stored as runs of rows, grouped into alphabets: the accessors every stored dataset shares.

A subclass sets `_groups` (group names), `_classes[g]` (class names of group g) and `_offsets[g]`
(the first row of each class of group g, then the group's end), and gets what `TaskSampler`
reads: class c of group g is rows `_offsets[g][c]` to `_offsets[g][c + 1]`.
"""

from __future__ import annotations


class GroupedRows:
    _groups: list[str]
    _classes: list[list[str]]
    _offsets: list[list[int]]

    @property
    def num_groups(self) -> int:
        return len(self._groups)

    def num_classes(self, group: int) -> int:
        return len(self._classes[group])

    def num_drawings(self, group: int, cls: int) -> int:
        return self._offsets[group][cls + 1] - self._offsets[group][cls]

    def group_name(self, group: int) -> str:
        return self._groups[group]

    def class_name(self, group: int, cls: int) -> str:
        return f"{self._groups[group]}/{self._classes[group][cls]}" if self.num_groups > 1 else self._classes[group][cls]

    def rows(self, group: int, cls: int) -> range:
        """Rows that hold class `cls` of `group`."""
        return range(self._offsets[group][cls], self._offsets[group][cls + 1])

"""Turn raw stacks into frame and stack ids while capture runs.

Backends deliver raw instruction addresses.  :class:`StackInterner` resolves each
through the :class:`~stax.address_spaces.AddressSpaces` it is fed (image loads, forks,
execs) to (image, offset), interns the frame in a :class:`~stax.stack_table.FrameTable`
and the leaf-to-root chain in a :class:`~stax.stack_table.StackTable`.  Whole stacks
repeat (a loop, a wait site), so they are memoised per process; an exec or a fork
forgets that process's memo, because its addresses mean something else afterwards.
Stacks a backend already deduplicated (:class:`stax.event_columns.RawStacks`) are
interned once per raw index (:meth:`StackInterner.intern_raw`).

Nothing here touches the file: :class:`stax.recording.sqlite_writer.RecordingFile`
writes the tables' new rows at each commit.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import repeat

from stax.address_spaces import AddressSpaces
from stax.event_columns import RawStacks
from stax.events import ImageKind
from stax.stack_table import EMPTY_STACK, FrameTable, ImageTable, StackTable

TRUNCATED_FRAME = "[truncated]"
"""The synthetic root frame of a user stack the unwinder could not finish (Sample.user_stack_truncated):
renderers show it where the stack ends, instead of passing a partial stack off as complete."""


class StackInterner:
    """Images, frames and stacks of one recording, and the address spaces that resolve them."""

    def __init__(self) -> None:
        self.images = ImageTable()
        self.frames = FrameTable()
        self.stacks = StackTable()
        self.address_spaces = AddressSpaces(self.images)
        self.truncated_frame_id: int | None = None
        """The ``[truncated]`` frame, once a truncated stack was seen."""
        self._frame_cache: dict[tuple[int, int, bool, bool], int] = {}
        self._stack_cache: dict[tuple[int, tuple[int, ...], tuple[int, ...], bool], int] = {}
        self._raw_table: RawStacks | None = None
        self._raw_ids = array("q")
        """Stack id of each raw stack of ``_raw_table`` (-1: not interned, or forgotten)."""
        self._raw_by_pid: dict[int, list[int]] = {}

    def intern_stack(self, pid: int, kernel_ips: Sequence[int], user_ips: Sequence[int],
                     truncated: bool = False) -> int:
        """Intern a raw stack (both parts leaf first) and return its stack id.

        The first address of each part is where that part was interrupted (the sampled
        pc; for the user part of a kernel sample, where it entered the kernel).  Every
        other address is a return address and becomes a frame marked ``is_return``,
        which symbolication looks up at ``address - 1``.  Backends deliver raw addresses.
        Whole stacks repeat (a loop, a wait site), so they are memoised per process.
        """
        key = (pid, tuple(kernel_ips), tuple(user_ips), truncated)
        stack_id = self._stack_cache.get(key)
        if stack_id is None:
            stack_id = self._intern_stack(pid, kernel_ips, user_ips, truncated)
            self._stack_cache[key] = stack_id
        return stack_id

    def intern_raw(self, table: RawStacks, raws: Sequence[int]) -> array:
        """The stack id of each raw stack index in ``raws`` (a column of :mod:`stax.event_columns`).

        Each raw stack is interned once, by :meth:`intern_stack`, the first time it is met
        (and again after an exec or fork of its process made its addresses mean something else),
        in the order the rows first name them; the rows are translated through the raw -> stack
        id table by ``table.translate`` (compiled code where the backend has it).
        """
        if table is not self._raw_table:
            self._raw_table, self._raw_ids, self._raw_by_pid = table, array("q", [EMPTY_STACK]), {}
        ids = self._raw_ids
        if not isinstance(raws, array):
            raws = array("q", raws)
        out, missing = table.translate(ids, raws)
        if missing:
            if len(ids) < len(table.entries):
                ids.extend(repeat(-1, len(table.entries) - len(ids)))
            entries = table.entries
            for raw in dict.fromkeys(missing):
                pid, kernel_ips, user_ips, truncated = entries[raw]
                ids[raw] = self.intern_stack(pid, kernel_ips, user_ips, truncated)
                self._raw_by_pid.setdefault(pid, []).append(raw)
            out, _ = table.translate(ids, raws)
        return out

    def _intern_stack(self, pid: int, kernel_ips: Sequence[int], user_ips: Sequence[int],
                      truncated: bool) -> int:
        frame = self._frame
        frame_ids = [frame(pid, ip, False, i > 0) for i, ip in enumerate(user_ips)]
        frame_ids.reverse()
        if truncated:  # the root end gets the [truncated] marker frame
            frame_ids.insert(0, self._truncated_frame())
        for i in range(len(kernel_ips) - 1, -1, -1):
            frame_ids.append(frame(pid, kernel_ips[i], True, i > 0))
        return self.stacks.intern(frame_ids) if frame_ids else EMPTY_STACK

    def _frame(self, pid: int, ip: int, is_kernel: bool, is_return: bool = False) -> int:
        key = (-1 if is_kernel else pid, ip, is_kernel, is_return)
        frame_id = self._frame_cache.get(key)
        if frame_id is None:
            if is_kernel:
                image_id, offset = self.address_spaces.kernel_image_id, ip
            else:
                image_id, offset = self.address_spaces.resolve_user(pid, ip)
            frame_id = self.frames.intern(image_id, offset, is_kernel, is_return)
            self._frame_cache[key] = frame_id
        return frame_id

    def _truncated_frame(self) -> int:
        if self.truncated_frame_id is None:
            image_id = self.images.intern(TRUNCATED_FRAME, ImageKind.UNKNOWN)
            self.truncated_frame_id = self.frames.intern(image_id, 0, False)
        return self.truncated_frame_id

    # -- what changes a process's addresses -------------------------------------------------------

    def exec(self, pid: int) -> None:
        """``pid`` replaced its program: its old mappings and memoised stacks are gone."""
        self.address_spaces.exec(pid)
        self._forget(pid)

    def fork(self, parent_pid: int, pid: int) -> None:
        """``pid`` starts as a copy of ``parent_pid``'s address space."""
        self.address_spaces.fork(parent_pid, pid)
        self._forget(pid)

    def _forget(self, pid: int) -> None:
        """A process's addresses mean something else after exec or fork: forget them."""
        if self._frame_cache:
            self._frame_cache = {k: v for k, v in self._frame_cache.items() if k[0] != pid}
        if self._stack_cache:
            self._stack_cache = {k: v for k, v in self._stack_cache.items() if k[0] != pid}
        ids = self._raw_ids
        for raw in self._raw_by_pid.pop(pid, ()):
            ids[raw] = -1

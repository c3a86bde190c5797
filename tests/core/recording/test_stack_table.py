"""Interning: shared prefixes are stored once; ids are stable."""

from stax.events import ImageKind
from stax.stack_table import EMPTY_STACK, FrameTable, ImageTable, StackTable


def test_stacks_share_prefixes() -> None:
    stacks = StackTable()
    a = stacks.intern([1, 2, 3])
    b = stacks.intern([1, 2, 4])
    assert stacks.intern([1, 2, 3]) == a
    assert len(stacks) == 4  # 1, 1-2, 1-2-3, 1-2-4
    assert stacks.frames_root_first(a) == [1, 2, 3]
    assert stacks.frames_root_first(b) == [1, 2, 4]
    assert stacks.parents[a] == stacks.parents[b]
    assert stacks.intern([]) == EMPTY_STACK


def test_frames_and_images_interned_by_identity() -> None:
    images = ImageTable()
    libc = images.intern("/lib/libc.so.6", ImageKind.ELF, b"\x01\x02")
    assert images.intern("/lib/libc.so.6", ImageKind.ELF, b"\x01\x02") == libc
    assert images.intern("/lib/libc.so.6", ImageKind.ELF, b"\x09") != libc
    assert images[libc].name == "libc.so.6"
    frames = FrameTable()
    f = frames.intern(libc, 0x1234)
    assert frames.intern(libc, 0x1234) == f
    assert frames.intern(libc, 0x1235) != f
    assert frames.intern(libc, 0xFFFFFFFF81000000, is_kernel=True) == 2

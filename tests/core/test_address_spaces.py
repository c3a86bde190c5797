"""Address -> (image, file offset), following mmap replacement, fork and exec."""

from stax.address_spaces import AddressSpaces
from stax.events import ImageKind, ImageLoad
from stax.stack_table import ImageTable


def _load(pid: int, start: int, end: int, off: int, path: str, kind=ImageKind.ELF) -> ImageLoad:
    return ImageLoad(0, pid, start, end, off, path, kind)


def test_resolves_through_file_offset() -> None:
    images = ImageTable()
    spaces = AddressSpaces(images)
    spaces.add(_load(10, 0x555000, 0x556000, 0x1000, "/bin/prog"))
    spaces.add(_load(10, 0x7F0000, 0x7F8000, 0x2000, "/lib/libc.so.6"))
    image, offset = spaces.resolve_user(10, 0x555123)
    assert images[image].path == "/bin/prog" and offset == 0x1123
    image, offset = spaces.resolve_user(10, 0x7F0010)
    assert images[image].path == "/lib/libc.so.6" and offset == 0x2010


def test_unmapped_and_jit_keep_absolute_addresses() -> None:
    images = ImageTable()
    spaces = AddressSpaces(images)
    spaces.add(_load(7, 0x10000, 0x20000, 0, "//anon", ImageKind.JIT))
    image, offset = spaces.resolve_user(7, 0x10010)
    assert images[image].kind is ImageKind.JIT and images[image].pid == 7 and offset == 0x10010
    image, offset = spaces.resolve_user(7, 0x999)
    assert images[image].path == "[unknown]" and offset == 0x999


def test_fork_copies_and_exec_resets() -> None:
    images = ImageTable()
    spaces = AddressSpaces(images)
    spaces.add(_load(1, 0x1000, 0x2000, 0, "/bin/a"))
    spaces.fork(1, 2)
    assert images[spaces.resolve_user(2, 0x1800)[0]].path == "/bin/a"
    spaces.exec(2)
    assert images[spaces.resolve_user(2, 0x1800)[0]].path == "[unknown]"
    assert images[spaces.resolve_user(1, 0x1800)[0]].path == "/bin/a"


def test_new_mapping_replaces_overlap() -> None:
    images = ImageTable()
    spaces = AddressSpaces(images)
    spaces.add(_load(1, 0x1000, 0x3000, 0, "/lib/old.so"))
    spaces.add(_load(1, 0x1000, 0x2000, 0, "/lib/new.so"))
    assert images[spaces.resolve_user(1, 0x1800)[0]].path == "/lib/new.so"
    assert images[spaces.resolve_user(1, 0x2800)[0]].path == "[unknown]"

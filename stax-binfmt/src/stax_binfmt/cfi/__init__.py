"""DWARF call frame information (``.eh_frame``, ``.eh_frame_hdr``, ``.debug_frame``): CIEs, FDEs and
the rows their programs compute, for the Linux unwinder and the Mach-O compact-unwind reader."""

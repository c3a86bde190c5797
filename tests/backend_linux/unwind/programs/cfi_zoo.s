# Hand-written CFI for the rarer call frame instructions and augmentations, so the
# parser meets each of them (checked row for row against readelf -wF).
# Build: gcc -shared -nostdlib -o cfi_zoo.so cfi_zoo.s

        .text

# "zPLR": personality (indirect|pcrel|sdata4) and LSDA pointers in the augmentation data
        .globl  zoo_personality_lsda
        .type   zoo_personality_lsda, @function
zoo_personality_lsda:
        .cfi_startproc
        .cfi_personality 0x9b, zoo_personality_ref
        .cfi_lsda 0x1c, zoo_lsda             # pcrel|sdata8: unlike the FDE encoding
        pushq   %rbx
        .cfi_def_cfa_offset 16
        .cfi_offset %rbx, -16
        nop
        .cfi_restore %rbx                 # back to the CIE's rule: none
        .cfi_offset %rip, -16
        nop
        .cfi_restore %rip                 # back to the CIE's rule: c-8
        popq    %rbx
        .cfi_def_cfa_offset 8
        ret
        .cfi_endproc
        .size   zoo_personality_lsda, .-zoo_personality_lsda

# remember/restore state around an early return; val_offset; register; same_value
        .globl  zoo_states
        .type   zoo_states, @function
zoo_states:
        .cfi_startproc
        pushq   %rbp
        .cfi_def_cfa_offset 16
        .cfi_offset %rbp, -16
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        pushq   %r12
        .cfi_offset %r12, -24
        movq    %r13, %rax
        .cfi_register %r13, %rax
        .cfi_val_offset %r14, -32
        testq   %rdi, %rdi
        .cfi_remember_state
        je      1f
        popq    %r12
        .cfi_same_value %r12
        popq    %rbp
        .cfi_def_cfa %rsp, 8
        ret
1:
        .cfi_restore_state
        .cfi_escape 0x2e, 0x10            # DW_CFA_GNU_args_size 16
        .cfi_undefined %r15
        nop
        .cfi_rel_offset %rbx, -40         # offset from the CFA register, not the CFA
        leave
        .cfi_def_cfa %rsp, 8
        ret
        .cfi_endproc
        .size   zoo_states, .-zoo_states

# a signal-frame CIE ("zRS") with a register saved by val_expression, and a long advance
        .globl  zoo_signal
        .type   zoo_signal, @function
        nop
zoo_signal:
        .cfi_startproc
        .cfi_signal_frame
        .cfi_escape 0x0f, 0x03, 0x77, 0x08, 0x06           # DW_CFA_def_cfa_expression: *(rsp+8)
        .cfi_escape 0x16, 0x03, 0x02, 0x77, 0x10           # DW_CFA_val_expression rbx: rsp+16
        .cfi_escape 0x10, 0x10, 0x02, 0x77, 0x18           # DW_CFA_expression ra: at rsp+24
        .fill   300, 1, 0x90
        .cfi_escape 0x12, 0x07, 0x7e                       # DW_CFA_def_cfa_sf rsp, -2*-8 = 16
        .cfi_escape 0x2f, 0x06, 0x02                       # DW_CFA_GNU_negative_offset_extended rbp
        nop
        .cfi_escape 0x13, 0x7d                             # DW_CFA_def_cfa_offset_sf 24
        .cfi_escape 0x15, 0x0c, 0x7c                       # DW_CFA_val_offset_sf r12, 32
        .fill   70000, 1, 0x90                             # advance_loc4
        ret
        .cfi_endproc
        .size   zoo_signal, .-zoo_signal

        .section .data.rel.local,"aw"
        .align 8
zoo_personality_ref:
        .quad   zoo_states
        .section .gcc_except_table,"a"
zoo_lsda:
        .byte   0xff, 0xff, 0x01, 0x00

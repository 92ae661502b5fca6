# Stage 2 entry (16-bit, loaded at 0000:8000 by the MBR with DL = boot drive), the switch
# to long mode, and the real-mode thunk through which the 64-bit Rust code calls BIOS
# interrupts. Everything here must stay below 0x10000 (stage2.ld asserts it).
#
# Low memory used while stage 2 runs (identity-mapped, below the MBR):
#   0x1000 PML4, 0x2000 PDPT, 0x3000 PD (1 GiB in 2 MiB pages)
#   0x4000 - 0x7C00 real-mode stack (also used by BIOS calls made through the thunk)

.set PML4, 0x1000
.set PDPT, 0x2000
.set PD,   0x3000
.set SEL_CODE16, 0x08
.set SEL_DATA16, 0x10
.set SEL_CODE64, 0x18
.set SEL_DATA64, 0x20

.code16
.section .stage2_entry, "ax"
.global stage2_start
stage2_start:
    .byte 0xE9                       # jmp near stage2_go
    .word stage2_go - stage2_start - 3
    .byte 0x90
    .ascii "BSH2"                    # checked by the MBR at 0x8004
    .long 1                          # stage 2 format version
    .long 0
# 0x10: the boot plan, all zero unless a test (or `bootshelf boot-test`) patches in one
# ISO to boot without the menu (see docs/bios.md and src/bin/stage2/plan.rs).
.global stage2_plan
stage2_plan:
    .fill 0x100, 1, 0
stage2_go:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7C00, %sp
    ljmp $0, $2f
2:  cld
    mov %dl, stage2_boot_drive

    # Long mode needs CPUID leaf 80000001h with the LM bit; say so on screen otherwise.
    pushfl
    popl %eax
    mov %eax, %ecx
    xor $0x200000, %eax              # can EFLAGS.ID be flipped? then CPUID exists
    pushl %eax
    popfl
    pushfl
    popl %eax
    cmp %eax, %ecx
    je no_long_mode
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $0x20000000, %edx
    jz no_long_mode

    # A20 through the system control port (SeaBIOS leaves it on; cheap to make sure).
    in $0x92, %al
    or $2, %al
    and $0xFE, %al
    out %al, $0x92

    # Page tables: PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] = i * 2 MiB (present, rw, 2M).
    xor %eax, %eax
    mov $PML4, %di
    mov $(3 * 4096 / 4), %cx
    rep stosl
    movl $(PDPT | 3), PML4
    movl $(PD | 3), PDPT
    mov $PD, %di
    mov $0x83, %eax
    mov $512, %cx
3:  mov %eax, (%di)
    add $0x200000, %eax
    add $8, %di
    loop 3b

    # Clear .bss (it may lie above 0x10000: go 16 bytes at a time through ES).
    mov $__bss_start_seg, %ax
    mov $__bss_paras, %bx
4:  test %bx, %bx
    jz 5f
    mov %ax, %es
    xor %di, %di
    push %ax
    xor %eax, %eax
    mov $4, %cx
    rep stosl
    pop %ax
    inc %ax
    dec %bx
    jmp 4b
5:  xor %ax, %ax
    mov %ax, %es

    lgdtl gdt_desc
    mov %cr4, %eax
    or $0x20, %eax                   # PAE
    mov %eax, %cr4
    mov $PML4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx            # EFER
    rdmsr
    or $0x100, %eax                  # LME
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax             # PG | PE: straight from real mode into long mode
    mov %eax, %cr0
    .byte 0x66, 0xEA                 # ljmpl $SEL_CODE64, $long_entry
    .long long_entry
    .word SEL_CODE64

no_long_mode:
    mov $msg_no_long_mode, %si
1:  lodsb
    test %al, %al
    jz 2f
    mov $0x0E, %ah
    mov $0x0007, %bx
    int $0x10
    jmp 1b
2:  hlt
    jmp 2b
msg_no_long_mode:
    .asciz "bootshelf: this CPU has no 64-bit long mode; bootshelf's BIOS loader needs one.\r\n"

.code64
long_entry:
    mov $SEL_DATA64, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    lea stage2_stack_top(%rip), %rsp
    movzbl stage2_boot_drive(%rip), %edi
    call stage2_main
6:  hlt
    jmp 6b

# extern "sysv64" fn bios_int(int_no: u8, regs: *mut BiosRegs)
# BiosRegs: eax ebx ecx edx esi edi ebp (u32 each), ds es (u16 each), eflags (u32) = 36 bytes.
.global bios_int
bios_int:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, thunk_rsp(%rip)
    mov %rsi, thunk_regs_ptr(%rip)
    mov %dil, thunk_int_no(%rip)
    mov $9, %ecx
    lea thunk_regs(%rip), %rdi
7:  mov (%rsi), %eax
    mov %eax, (%rdi)
    add $4, %rsi
    add $4, %rdi
    loop 7b
    # To 16-bit protected mode (compatibility mode with a 16-bit code segment).
    push $SEL_CODE16
    lea pm16(%rip), %rax
    push %rax
    lretq

.code16
pm16:
    mov $SEL_DATA16, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov %cr0, %eax
    and $0x7FFFFFFF, %eax            # paging off: leaves long mode (EFER.LME stays set)
    mov %eax, %cr0
    and $0xFFFFFFFE, %eax            # protection off: real mode
    mov %eax, %cr0
    ljmp $0, $rm16
rm16:
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7C00, %sp
    lidt rm_idt
    pushw thunk_regs + 28            # ds
    pushw thunk_regs + 30            # es
    mov thunk_regs + 0, %eax
    mov thunk_regs + 4, %ebx
    mov thunk_regs + 8, %ecx
    mov thunk_regs + 12, %edx
    mov thunk_regs + 16, %esi
    mov thunk_regs + 20, %edi
    mov thunk_regs + 24, %ebp
    pop %es
    pop %ds
    sti
    .byte 0xCD                       # int imm8
thunk_int_no:
    .byte 0x00
    cli
    pushfl
    popl %cs:thunk_regs + 32
    mov %eax, %cs:thunk_regs + 0
    mov %ebx, %cs:thunk_regs + 4
    mov %ecx, %cs:thunk_regs + 8
    mov %edx, %cs:thunk_regs + 12
    mov %esi, %cs:thunk_regs + 16
    mov %edi, %cs:thunk_regs + 20
    mov %ebp, %cs:thunk_regs + 24
    mov %ds, %cs:thunk_regs + 28
    mov %es, %cs:thunk_regs + 30
    xor %ax, %ax
    mov %ax, %ds
    lidt null_idt
    mov %cr0, %eax
    or $0x80000001, %eax
    mov %eax, %cr0
    .byte 0x66, 0xEA                 # ljmpl $SEL_CODE64, $lm_back
    .long lm_back
    .word SEL_CODE64

.code64
lm_back:
    mov $SEL_DATA64, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov thunk_rsp(%rip), %rsp
    mov thunk_regs_ptr(%rip), %rdi
    lea thunk_regs(%rip), %rsi
    mov $9, %ecx
8:  mov (%rsi), %eax
    mov %eax, (%rdi)
    add $4, %rsi
    add $4, %rdi
    loop 8b
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

# extern "sysv64" fn bios_jump_resident(segment: u16, offset: u16) -> !
# Leaves long mode for good and far-jumps to segment:offset in real mode with DS = CS.
.global bios_jump_resident
bios_jump_resident:
    mov %di, jump_target + 2(%rip)
    mov %si, jump_target(%rip)
    push $SEL_CODE16
    lea pm16_final(%rip), %rax
    push %rax
    lretq
.code16
pm16_final:
    mov $SEL_DATA16, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov %cr0, %eax
    and $0x7FFFFFFF, %eax
    mov %eax, %cr0
    and $0xFFFFFFFE, %eax
    mov %eax, %cr0
    ljmp $0, $rm_final
rm_final:
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7C00, %sp
    lidt rm_idt
    mov $0xC0000080, %ecx            # EFER.LME off: the next OS starts from a clean state
    rdmsr
    and $0xFFFFFEFF, %eax
    wrmsr
    mov %cr4, %eax
    and $0xFFFFFFDF, %eax
    mov %eax, %cr4
    xor %eax, %eax
    mov %eax, %cr3
    mov jump_target + 2, %ax
    mov %ax, %ds
    sti
    ljmp *%cs:jump_target

.balign 8
gdt:
    .quad 0
    .quad 0x00009A000000FFFF         # 0x08 16-bit code, base 0, limit 64 KiB
    .quad 0x000092000000FFFF         # 0x10 16-bit data, base 0, limit 64 KiB
    .quad 0x00AF9A000000FFFF         # 0x18 64-bit code
    .quad 0x00CF92000000FFFF         # 0x20 flat data
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
rm_idt:
    .word 0x3FF
    .long 0
null_idt:
    .word 0
    .long 0
.balign 8
thunk_rsp:      .quad 0
thunk_regs_ptr: .quad 0
thunk_regs:     .fill 9, 4, 0
jump_target:    .word 0, 0
.global stage2_boot_drive
stage2_boot_drive: .byte 0

.section .bss.stage2_stack, "aw", @nobits
.balign 16
    .skip 65536
.global stage2_stack_top
stage2_stack_top:

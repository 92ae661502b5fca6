# bootshelf MBR: 440 bytes at 0x7C00. Loads stage 2 with INT 13h extensions (AH=42h)
# from the boot drive to 0000:8000 and jumps there with DL = boot drive.
#
# `bootshelf install` patches three fields (see docs/bios.md):
#   0x1A8 u64  stage 2 first LBA, in device sectors
#   0x1B0 u16  stage 2 length, in device sectors
#   0x1B2 u8   log2(device sector size): 9 (512) or 12 (4096)
# Stage 2 is read in 32 KiB chunks; it must start with "BSH2" at offset 4.
.code16
.section .mbr, "ax"
.global mbr_start
mbr_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7C00, %sp
    ljmp $0, $1f
1:  sti
    cld
    mov %dl, boot_drive

    mov $0x41, %ah
    mov $0x55AA, %bx
    int $0x13
    jc no_ext
    cmp $0xAA55, %bx
    jne no_ext

    mov stage2_sectors, %di         # sectors still to read
    test %di, %di
    jz no_stage2
    mov sector_shift, %cl
    mov $0x8000, %bp
    shr %cl, %bp                    # sectors per 32 KiB chunk
    jz no_stage2
    movw $0x0800, dap_seg
read_loop:
    mov %bp, %ax
    cmp %di, %ax
    jbe 2f
    mov %di, %ax
2:  mov %ax, dap_count
    mov $dap, %si
    mov boot_drive, %dl
    push %ax
    mov $0x42, %ah
    int $0x13
    pop %ax
    jc read_error
    add %ax, dap_lba
    adcw $0, dap_lba+2
    adcw $0, dap_lba+4
    adcw $0, dap_lba+6
    addw $0x0800, dap_seg
    sub %ax, %di
    jnz read_loop

    cmpl $0x32485342, 0x8004        # "BSH2"
    jne no_stage2
    mov boot_drive, %dl
    ljmp $0, $0x8000

no_ext:
    mov $msg_ext, %si
    jmp fail
read_error:
    mov $msg_read, %si
    jmp fail
no_stage2:
    mov $msg_stage2, %si
fail:
    lodsb
    test %al, %al
    jz halt
    mov $0x0E, %ah
    mov $0x0007, %bx
    int $0x10
    jmp fail
halt:
    hlt
    jmp halt

msg_ext:    .asciz "bootshelf MBR: this BIOS has no INT 13h extensions\r\n"
msg_read:   .asciz "bootshelf MBR: reading stage 2 failed\r\n"
msg_stage2: .asciz "bootshelf MBR: stage 2 missing or damaged\r\n"
boot_drive: .byte 0

.org 0x1A0
dap:                                 # INT 13h AH=42h packet; its LBA is the patched field
    .byte 0x10, 0
dap_count:
    .word 0
    .word 0                          # buffer offset
dap_seg:
    .word 0x0800                     # buffer segment
dap_lba:                             # the patched stage 2 LBA doubles as the DAP LBA
stage2_lba:
    .quad 1
stage2_sectors:
    .word 0
sector_shift:
    .byte 9
    .byte 0
    .long 0

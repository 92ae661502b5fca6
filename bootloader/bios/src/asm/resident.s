# The resident INT 13h El Torito emulation. Stage 2 copies this image (res_base ..
# res_end, followed by a 4 KiB bounce buffer) to the top of conventional memory (BDA
# 0x413 lowered), fills in its parameter block, and far-jumps to its boot entry, which
# hooks INT 13h, loads the boot image through the hook and jumps to it.
#
# The code is position independent: it runs at seg:0000 with any segment; every data
# reference is an offset from res_base (the R_* constants, or `label - res_base`).
# It keeps the i386 real-mode rules: 32-bit registers are fine, nothing else is assumed.
#
# Units: "unit" = 512 bytes. The ISO is mapped by a table of extents
# (iso_unit, dev_unit, units) (u32 each, units of the ISO and of the stick); reads go to
# the original INT 13h AH=42h of the stick drive (512- or 4096-byte sectors). Units the
# kernel options' overlay replaces (or adds past the ISO's end) are found first in a
# table of memory extents (iso_unit, units, segment) and copied from conventional
# memory; the stick's extents never overlap them (stage 2 cuts them out).

.set R_HDR_INT13, 0                  # u16 offset of the INT 13h handler
.set R_HDR_BOOT, 2                   # u16 offset of the boot entry
.set R_HDR_SIZE, 4                   # u16 size of the image (bounce buffer follows)
.set R_OLD13, 8                      # u32 original INT 13h vector (off, seg)
.set R_IMAGE_UNIT, 12                # u32 first unit of the boot image in the ISO
.set R_ISO_UNITS, 16                 # u32 size of the ISO in units
.set R_EMU_UNITS, 20                 # u32 size of the emulated floppy/hard disk in units
.set R_LOAD_SEG, 24                  # u16 load segment of the boot image
.set R_LOAD_COUNT, 26                # u16 512-byte sectors to load
.set R_STICK_DRIVE, 28               # u8  BIOS drive number of the stick
.set R_SECTOR_SHIFT, 29              # u8  log2(stick sector size): 9 or 12
.set R_EMU_DRIVE, 30                 # u8  drive number we answer as (E0h, 00h or 80h)
.set R_MEDIA, 31                     # u8  El Torito media type: 0 none, 1-3 floppy, 4 hd
.set R_CYLS, 32                      # u16 emulated cylinders
.set R_HEADS, 34                     # u8  emulated heads
.set R_SPT, 35                       # u8  emulated sectors per track
.set R_EXT_COUNT, 36                 # u16 number of extents
.set R_STATUS, 38                    # u8  status of the last operation (AH=01h)
.set R_EXTENTS, 40                   # 32 x (iso_unit, dev_unit, units)
.set R_DAP, 424                      # our own INT 13h AH=42h packet (+16: saved count, +18: status)
.set R_BOUNCE, 448                   # u16 offset of the 4 KiB bounce buffer (stored here)
.set R_STACK_TOP, 450                # u16 top of our own 4 KiB stack (after the bounce buffer)
.set R_SAVED_SS, 452                 # u16 caller's SS while we run on our stack
.set R_SAVED_SP, 454                 # u16 caller's SP
.set R_SAVED_AX, 456                 # u16 scratch for the stack switch
.set R_OLD15, 458                    # u32 original INT 15h vector (off, seg)
.set R_LOW_TOP, 462                  # u32 linear address of this image (new end of low RAM)
.set R_MEM_COUNT, 466                # u16 number of memory extents (kernel options' overlay)
.set R_MEM, 468                      # 8 x (iso_unit, units, segment): units served from RAM
.set R_PARAMS_END, 564               # end of the parameter block

# Caller's registers on our stack after `push fs; push ds; push es; pushal` (BP = SP).
.set F_DI, 0
.set F_SI, 4
.set F_BX, 16
.set F_BL, 16
.set F_BH, 17
.set F_DX, 20
.set F_DL, 20
.set F_DH, 21
.set F_CX, 24
.set F_CL, 24
.set F_CH, 25
.set F_AX, 28
.set F_AL, 28
.set F_AH, 29
.set F_ES, 32
.set F_DS, 34

.code16
.section .text16.resident, "ax"
.global res_base
.global res_end
res_base:
    .word res_int13 - res_base
    .word res_boot - res_base
    .word res_end - res_base
    .word res_int15 - res_base
    .fill R_PARAMS_END - 8, 1, 0     # parameter block, filled by stage 2

res_int13:
    cmp %cs:R_EMU_DRIVE, %dl
    je emu
    cmpb $0, %cs:R_MEDIA
    je chain
    cmpb $4, %cs:R_MEDIA
    je shift_hd
    test %dl, %dl                    # floppy emulation: real floppies 00h.. answer as 01h..
    js chain
    jmp shifted
shift_hd:
    test %dl, %dl                    # hard-disk emulation: real disks 80h.. answer as 81h..
    jns chain
    cmp $0xE0, %dl
    jae chain
shifted:
    dec %dl
    pushf
    lcall *%cs:R_OLD13
    inc %dl                          # the caller's number back; for AH=08h: the count, ours included
    jmp iret_cf
chain:
    ljmp *%cs:R_OLD13

emu:
    # Run on our own stack: callers may have little room on theirs (the caller's FLAGS,
    # CS and IP stay there for the final lret).
    cli
    mov %ss, %cs:R_SAVED_SS
    mov %sp, %cs:R_SAVED_SP
    mov %ax, %cs:R_SAVED_AX
    mov %cs, %ax
    mov %ax, %ss
    mov %cs:R_STACK_TOP, %sp
    mov %cs:R_SAVED_AX, %ax
    sti
    cld
    push %fs                         # callers (syslinux) keep state in FS: we use it
    push %ds
    push %es
    pushal
    mov %sp, %bp
    push %cs
    pop %ds
    cmp $0x00, %ah
    je ok_ah0
    cmp $0x01, %ah
    je f_status
    cmp $0x02, %ah
    je f_chs_read
    cmp $0x03, %ah
    je f_write
    cmp $0x43, %ah
    je f_write
    cmp $0x08, %ah
    je f_params
    cmp $0x15, %ah
    je f_type
    cmp $0x41, %ah
    je f_ext_check
    cmp $0x42, %ah
    je f_ext_read
    cmp $0x48, %ah
    je f_ext_params
    cmp $0x4B, %ah
    je f_eltorito
    cmp $0x04, %ah                   # verify, seek, resets, ready, recalibrate, ext verify/seek
    je ok_ah0
    cmp $0x0C, %ah
    je ok_ah0
    cmp $0x0D, %ah
    je ok_ah0
    cmp $0x10, %ah
    je ok_ah0
    cmp $0x11, %ah
    je ok_ah0
    cmp $0x16, %ah
    je ok_ah0
    cmp $0x44, %ah
    je ok_ah0
    cmp $0x47, %ah
    je ok_ah0
bad_function:
    mov $0x01, %al
fail:
    mov %al, R_STATUS
    mov %al, F_AH(%bp)
    popal
    pop %es
    pop %ds
    pop %fs
    stc
    jmp leave
ok_ah0:
    movb $0, F_AH(%bp)
ok:
    movb $0, R_STATUS
    popal
    pop %es
    pop %ds
    pop %fs
    clc
    jmp leave

leave:                               # back to the caller's stack with CF
    cli
    mov %cs:R_SAVED_SS, %ss
    mov %cs:R_SAVED_SP, %sp
# Return from the interrupt with the caller's FLAGS (its IF above all: syslinux calls
# INT 13h with interrupts off and must get them back off) and our CF.
iret_cf:
    push %bp
    mov %sp, %bp
    jc 1f
    andw $0xFFFE, 6(%bp)
    pop %bp
    iret
1:  orw $1, 6(%bp)
    pop %bp
    iret

# INT 15h: E820h memory map entries are clipped so that the RAM below 640 KiB ends where
# this image starts (what BDA 0x413 already says); everything else goes to the BIOS.
res_int15:
    cmp $0xE820, %eax
    je 1f
    ljmp *%cs:R_OLD15
1:  pushf
    lcall *%cs:R_OLD15
    jc 9f
    cmp $0x534D4150, %eax
    jne 8f
    push %edx
    push %esi
    mov %cs:R_LOW_TOP, %esi
    cmpl $0, %es:4(%di)              # based above 4 GiB: not ours
    jne 7f
    cmpl $1, %es:16(%di)             # only RAM ranges change
    jne 7f
    mov %es:(%di), %edx
    cmp %esi, %edx
    jae 5f
    cmpl $0, %es:12(%di)             # starts below us: clip it if it reaches us
    jne 4f
    add %es:8(%di), %edx
    jc 4f
    cmp %esi, %edx
    jbe 7f
4:  mov %esi, %edx
    sub %es:(%di), %edx
    mov %edx, %es:8(%di)
    movl $0, %es:12(%di)
    jmp 7f
5:  cmp $0xA0000, %edx               # starts inside us (below 640 KiB): reserved
    jae 7f
    movl $2, %es:16(%di)
7:  pop %esi
    pop %edx
8:  clc
9:  jmp iret_cf

f_status:
    mov R_STATUS, %al
    mov %al, F_AH(%bp)
    popal
    pop %es
    pop %ds
    pop %fs
    clc
    jmp leave

f_write:
    mov $0x03, %al                   # write protected
    jmp fail

# AH=02h: CHS read of the emulated floppy / hard disk.
f_chs_read:
    cmpb $0, R_MEDIA
    je bad_function
    movzbl F_AL(%bp), %ecx
    test %cx, %cx
    jz bad_function
    movzbl F_CL(%bp), %ebx
    and $0x3F, %bx                   # sector, 1-based
    jz sector_not_found
    cmp R_SPT, %bl
    ja sector_not_found
    movzbl F_DH(%bp), %edx
    cmp R_HEADS, %dl
    jae sector_not_found
    movzbl F_CL(%bp), %eax
    and $0xC0, %al
    shl $2, %ax
    mov F_CH(%bp), %al               # eax = cylinder
    movzbl R_HEADS, %esi
    imul %esi, %eax
    add %edx, %eax
    movzbl R_SPT, %esi
    imul %esi, %eax
    add %ebx, %eax
    dec %eax                         # eax = LBA
    mov %eax, %edx
    add %ecx, %edx
    cmp R_EMU_UNITS, %edx
    ja sector_not_found
    add R_IMAGE_UNIT, %eax
    mov F_ES(%bp), %es
    mov F_BX(%bp), %di
    call read_units
    mov %cl, F_AL(%bp)
    jc fail
    jmp ok_ah0
sector_not_found:
    mov $0x04, %al
    jmp fail

# AH=08h: drive parameters (floppy and hard-disk emulation only).
f_params:
    movzbw R_MEDIA, %bx
    test %bx, %bx
    jz bad_function
    mov R_CYLS, %ax
    dec %ax
    mov %al, F_CH(%bp)
    shr $2, %ax
    and $0xC0, %al
    or R_SPT, %al
    mov %al, F_CL(%bp)
    mov R_HEADS, %al
    dec %al
    mov %al, F_DH(%bp)
    movw $0, F_AX(%bp)
    xor %ax, %ax
    mov %ax, %es
    cmp $4, %bx
    je 1f
    mov floppy_types - res_base - 1(%bx), %al
    mov %al, F_BL(%bp)
    movb $0, F_BH(%bp)
    mov %es:0x410, %al               # equipment word: floppies = bits 6-7 + 1
    shr $6, %al
    inc %al
    mov %al, F_DL(%bp)
    mov %es:0x78, %ax                # INT 1Eh: diskette parameter table
    mov %ax, F_DI(%bp)
    mov %es:0x7A, %ax
    mov %ax, F_ES(%bp)
    jmp ok
1:  mov %es:0x475, %al               # hard disks, ours included
    mov %al, F_DL(%bp)
    jmp ok
floppy_types:
    .byte 2, 4, 6                    # 1.2 MB, 1.44 MB, 2.88 MB

# AH=15h: drive type.
f_type:
    mov R_MEDIA, %al
    cmp $4, %al
    je 1f
    test %al, %al
    jz 2f
    movb $0x01, F_AH(%bp)            # floppy without change line
    jmp ok
2:  movb $0x02, F_AH(%bp)            # removable with change line (the CD)
    jmp ok
1:  movb $0x03, F_AH(%bp)            # hard disk; CX:DX = sectors
    mov R_EMU_UNITS, %eax
    mov %ax, F_DX(%bp)
    shr $16, %eax
    mov %ax, F_CX(%bp)
    jmp ok

# AH=41h: extensions present (EDD 3.0: fixed disk access and EDD subsets).
f_ext_check:
    cmpw $0x55AA, F_BX(%bp)
    jne bad_function
    movw $0xAA55, F_BX(%bp)
    movw $0x0005, F_CX(%bp)
    movb $0x30, F_AH(%bp)
    jmp ok

# AH=42h: extended read. CD: 2048-byte sectors; emulated disks: 512-byte sectors.
f_ext_read:
    mov F_DS(%bp), %fs
    mov F_SI(%bp), %si
    movzwl %fs:2(%si), %ecx          # sectors
    mov %fs:4(%si), %di
    mov %fs:6(%si), %es
    cmpl $0xFFFFFFFF, %fs:4(%si)     # flat 64-bit buffer address: not supported
    je bad_function
    cmpl $0, %fs:12(%si)
    jne sector_not_found
    mov %fs:8(%si), %eax
    movw $0, %fs:2(%si)
    test %ecx, %ecx
    jz ok_ah0
    cmpb $0, R_MEDIA
    jne 1f
    cmp $0x40000000, %eax
    jae sector_not_found
    shl $2, %eax
    shl $2, %ecx
    mov %eax, %edx
    add %ecx, %edx
    jc sector_not_found
    cmp R_ISO_UNITS, %edx
    ja sector_not_found
    call read_units
    pushf
    shr $2, %ecx                     # units back to CD sectors
    popf
    jmp 2f
1:  mov %eax, %edx
    add %ecx, %edx
    jc sector_not_found
    cmp R_EMU_UNITS, %edx
    ja sector_not_found
    add R_IMAGE_UNIT, %eax
    call read_units
2:    mov F_DS(%bp), %fs
    mov F_SI(%bp), %si
    mov %cx, %fs:2(%si)
    jc fail
    jmp ok_ah0

# AH=48h: drive parameters (EDD).
f_ext_params:
    mov F_DS(%bp), %es
    mov F_SI(%bp), %di
    mov %es:(%di), %ax
    cmp $0x1A, %ax
    jb bad_function
    movw $0x1A, %es:(%di)
    cmp $0x1E, %ax
    jb 1f
    movw $0x1E, %es:(%di)
    movl $0xFFFFFFFF, %es:26(%di)    # no device parameter table extension
1:  cmpb $0, R_MEDIA
    jne 2f
    movw $0x0014, %es:2(%di)         # removable, change line
    xor %eax, %eax
    mov %eax, %es:4(%di)
    mov %eax, %es:8(%di)
    mov %eax, %es:12(%di)
    mov R_ISO_UNITS, %eax
    shr $2, %eax
    mov %eax, %es:16(%di)
    movl $0, %es:20(%di)
    movw $2048, %es:24(%di)
    jmp ok_ah0
2:  movw $0x0002, %es:2(%di)         # CHS information valid
    movzwl R_CYLS, %eax
    mov %eax, %es:4(%di)
    movzbl R_HEADS, %eax
    mov %eax, %es:8(%di)
    movzbl R_SPT, %eax
    mov %eax, %es:12(%di)
    mov R_EMU_UNITS, %eax
    mov %eax, %es:16(%di)
    movl $0, %es:20(%di)
    movw $512, %es:24(%di)
    jmp ok_ah0

# AX=4B00h/4B01h: El Torito specification packet (4B00h would also end emulation; we
# keep serving, which every loader we know tolerates).
f_eltorito:
    cmpb $1, F_AL(%bp)
    ja bad_function
    mov F_DS(%bp), %es
    mov F_SI(%bp), %di
    movb $0x13, %es:0(%di)
    mov R_MEDIA, %al
    mov %al, %es:1(%di)
    mov R_EMU_DRIVE, %al
    mov %al, %es:2(%di)
    movb $0, %es:3(%di)
    mov R_IMAGE_UNIT, %eax
    shr $2, %eax
    mov %eax, %es:4(%di)
    movw $0, %es:8(%di)
    movw $0, %es:10(%di)
    mov R_LOAD_SEG, %ax
    mov %ax, %es:12(%di)
    mov R_LOAD_COUNT, %ax
    mov %ax, %es:14(%di)
    xor %ax, %ax
    mov %al, %es:16(%di)
    mov %ax, %es:17(%di)
    cmpb $0, R_MEDIA
    je ok_ah0
    mov R_CYLS, %ax
    dec %ax
    mov %al, %es:16(%di)
    shr $2, %ax
    and $0xC0, %al
    or R_SPT, %al
    mov %al, %es:17(%di)
    mov R_HEADS, %al
    dec %al
    mov %al, %es:18(%di)
    jmp ok_ah0

# Read ECX units of the ISO from unit EAX into ES:DI (DS = CS).
# Out: ECX = units read; CF set and AL = INT 13h status on failure.
# Clobbers EAX, EBX, EDX, ESI, EDI, ES.
read_units:
    push %ebp
    xor %ebp, %ebp
    mov %di, %dx                     # normalise ES:DI so that DI < 16
    shr $4, %dx
    mov %es, %bx
    add %dx, %bx
    mov %bx, %es
    and $0x0F, %di
ru_loop:
    test %ecx, %ecx
    jz ru_ok
    mov $R_MEM, %si
    mov R_MEM_COUNT, %bx
ru_mfind:
    test %bx, %bx
    jz ru_stick
    mov %eax, %edx
    sub (%si), %edx                  # unit - extent start (wraps when below)
    cmp 4(%si), %edx
    jb ru_mem
    add $12, %si
    dec %bx
    jmp ru_mfind
ru_stick:
    mov $R_EXTENTS, %si
    mov R_EXT_COUNT, %bx
ru_find:
    test %bx, %bx
    jz ru_not_found
    mov %eax, %edx
    sub (%si), %edx                  # unit - extent start (wraps when below)
    cmp 8(%si), %edx
    jb ru_found
    add $12, %si
    dec %bx
    jmp ru_find
ru_found:
    mov 8(%si), %ebx
    sub %edx, %ebx                   # units left in this extent
    add 4(%si), %edx                 # edx = stick unit
    cmp %ecx, %ebx
    jbe 1f
    mov %ecx, %ebx
1:  cmp $64, %ebx                    # at most 32 KiB per call
    jbe 2f
    mov $64, %ebx
2:  movl $0, R_DAP + 12
    cmpb $9, R_SECTOR_SHIFT
    jne ru_4k
    mov %bx, R_DAP + 2
    mov %di, R_DAP + 4
    mov %es, R_DAP + 6
    mov %edx, R_DAP + 8
    call dev_read
    jc ru_err
    jmp ru_advance
ru_4k:
    test $7, %dl
    jnz ru_bounce
    cmp $8, %ebx
    jb ru_bounce
    and $0xFFF8, %bx
    mov %bx, %si
    shr $3, %si
    mov %si, R_DAP + 2
    mov %di, R_DAP + 4
    mov %es, R_DAP + 6
    shr $3, %edx
    mov %edx, R_DAP + 8
    call dev_read
    jc ru_err
    jmp ru_advance
ru_bounce:
    push %ecx
    push %eax
    movw $1, R_DAP + 2
    mov R_BOUNCE, %si
    mov %si, R_DAP + 4
    mov %cs, R_DAP + 6
    mov %edx, %esi
    shr $3, %esi
    mov %esi, R_DAP + 8
    and $7, %edx                     # unit within the stick sector
    mov $8, %ecx
    sub %edx, %ecx
    cmp %ecx, %ebx
    jbe 3f
    mov %ecx, %ebx
3:  call dev_read
    jc 4f
    mov R_BOUNCE, %si
    shl $9, %dx
    add %dx, %si
    mov %bx, %cx
    shl $9, %cx
    push %di
    rep movsb
    pop %di
    pop %eax
    pop %ecx
    jmp ru_advance
4:  pop %eax
    pop %ecx
    jmp ru_err
ru_mem:                              # EDX = unit within the memory extent at SI
    mov 4(%si), %ebx
    sub %edx, %ebx                   # units left in it
    cmp %ecx, %ebx
    jbe 1f
    mov %ecx, %ebx
1:  cmp $64, %ebx                    # at most 32 KiB per copy
    jbe 2f
    mov $64, %ebx
2:  push %ecx
    push %di
    mov %bx, %cx
    shl $9, %cx                      # bytes (at most 32 KiB)
    cmpl $0, 8(%si)                  # segment 0: zeros (padding past the ISO's end)
    je 3f
    shl $5, %edx
    add 8(%si), %edx                 # DX = segment of the first unit
    push %ds
    mov %dx, %ds
    xor %si, %si
    rep movsb
    pop %ds
    jmp 4f
3:  push %ax
    xor %al, %al
    rep stosb
    pop %ax
4:  pop %di
    pop %ecx
ru_advance:
    add %ebx, %eax
    sub %ebx, %ecx
    add %ebx, %ebp
    shl $5, %bx
    mov %es, %dx
    add %bx, %dx
    mov %dx, %es
    jmp ru_loop
ru_ok:
    mov %ebp, %ecx
    pop %ebp
    clc
    ret
ru_not_found:
    mov $0x04, %al
    jmp 5f
ru_err:
    mov R_DAP + 18, %al
5:  mov %ebp, %ecx
    pop %ebp
    stc
    ret

# One INT 13h AH=42h read of the stick with the packet at R_DAP; three tries.
# Out: CF set on failure, with the status in byte R_DAP + 18. Preserves all registers.
dev_read:
    push %eax
    push %si
    push %dx
    push %cx
    mov R_DAP + 2, %cx
    mov %cx, R_DAP + 16              # the count, for retries (a failed call may change it)
    mov $3, %cx
1:  movw $0x0010, R_DAP
    mov R_DAP + 16, %ax
    mov %ax, R_DAP + 2
    mov $R_DAP, %si
    mov R_STICK_DRIVE, %dl
    mov $0x42, %ah
    pushf
    lcall *R_OLD13
    jnc 2f
    mov %ah, R_DAP + 18
    mov R_STICK_DRIVE, %dl
    xor %ah, %ah                     # reset, then try again
    pushf
    lcall *R_OLD13
    loop 1b
    stc
2:  pop %cx
    pop %dx
    pop %si
    pop %eax
    ret

# Boot entry: far-jumped to from stage 2 in real mode with DS = CS, SS:SP = 0:7C00.
res_boot:
    push %cs
    pop %ds
    cld
    xor %ax, %ax
    mov %ax, %es
    cli
    movw $(res_int13 - res_base), %es:0x4C
    mov %cs, %es:0x4E
    movw $(res_int15 - res_base), %es:0x54
    mov %cs, %es:0x56
    sti
    mov R_LOAD_SEG, %es
    xor %di, %di
    mov R_IMAGE_UNIT, %eax
    movzwl R_LOAD_COUNT, %ecx
    call read_units
    jc boot_fail
    mov R_LOAD_SEG, %bx
    xor %ax, %ax
    mov R_EMU_DRIVE, %dl
    cmp $0x07C0, %bx
    jne 1f
    push %ax
    pushw $0x7C00
    jmp 2f
1:  push %bx
    push %ax
2:  mov %ax, %ds
    mov %ax, %es
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %esi, %esi
    xor %edi, %edi
    xor %ebp, %ebp
    xor %dh, %dh
    lret
boot_fail:
    mov %al, %cl
    mov $(msg_boot_fail - res_base), %si
    call print
    mov %cl, %al
    shr $4, %al
    call print_hex_digit
    mov %cl, %al
    call print_hex_digit
    mov $(msg_halt - res_base), %si
    call print
5:  hlt
    jmp 5b
print:
    lodsb
    test %al, %al
    jz 6f
    mov $0x0E, %ah
    mov $0x0007, %bx
    int $0x10
    jmp print
6:  ret
print_hex_digit:
    and $0x0F, %al
    add $'0', %al
    cmp $'9', %al
    jbe 7f
    add $7, %al
7:  mov $0x0E, %ah
    mov $0x0007, %bx
    int $0x10
    ret
msg_boot_fail: .asciz "\r\nbootshelf: reading the boot image through INT 13h failed, status 0x"
msg_halt: .asciz "\r\nbootshelf: the machine is halted; remove the stick or reset.\r\n"
.balign 16
res_end:

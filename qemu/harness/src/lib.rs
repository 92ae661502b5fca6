//! Runs QEMU with OVMF or SeaBIOS, a stick on USB storage, serial capture, key injection

//! End-to-end tests: build sticks with bootshelf and boot them under QEMU

//! The on-stick index of ISOs and menu settings, shared by the CLI and the bootloaders (no_std)
#![cfg_attr(not(test), no_std)]

//! Menu model, stick discovery and the ISO window, shared by the UEFI and BIOS loaders (no_std)
#![cfg_attr(not(test), no_std)]

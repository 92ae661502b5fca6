//! ISO 9660 volume descriptors, directory lookup and the El Torito boot catalog (no_std)
#![cfg_attr(not(test), no_std)]

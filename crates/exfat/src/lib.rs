//! bootshelf's own exFAT: format, contiguous files, read, delete, extents (no_std core + std adapter)
#![cfg_attr(not(test), no_std)]

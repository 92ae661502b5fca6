//! GPT and MBR partition tables: parse, validate, and write the ISO window entry with both GPT copies (no_std)
#![cfg_attr(not(test), no_std)]

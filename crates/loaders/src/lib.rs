//! The bootloaders, built from source for their targets by build.rs and embedded as bytes

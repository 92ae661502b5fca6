//! Stick layout and operations: partitioning, ESP, install, update, add, remove, sync, check

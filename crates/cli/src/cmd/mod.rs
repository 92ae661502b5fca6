//! One module per subcommand; each has an `Args` (clap) and a `run`.

pub mod add;
pub mod boot_next;
pub mod boot_test;
pub mod check;
pub mod demo;
pub mod devices;
pub mod inspect;
pub mod install;
pub mod list;
pub mod options;
pub mod persistence;
pub mod remove;
pub mod sync;
pub mod update;

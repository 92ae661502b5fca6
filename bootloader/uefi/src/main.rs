//! bootshelf's UEFI loader.
#![no_std]
#![no_main]

use uefi::prelude::*;

#[entry]
fn main() -> Status {
    uefi::println!("bootshelf");
    Status::SUCCESS
}

//! Opening protocols on handles the loader does not own, without disturbing the drivers
//! that manage them.
//!
//! `open_protocol_exclusive` would disconnect every driver that opened the protocol
//! `BY_DRIVER` (opening the stick's Device Path exclusively disconnects the partition
//! driver, and with it the ESP we run from). The loader only ever looks, so it opens with
//! `GET_PROTOCOL`, which never disconnects anything.

use uefi::boot::{self, OpenProtocolAttributes, OpenProtocolParams, ScopedProtocol};
use uefi::proto::ProtocolPointer;
use uefi::Handle;

/// Open protocol `P` on `handle` for looking at it (GET_PROTOCOL).
pub fn get<P: ProtocolPointer + ?Sized>(handle: Handle) -> uefi::Result<ScopedProtocol<P>> {
    // SAFETY: GET_PROTOCOL does not register the loader as a user of the interface, so the
    // firmware may in principle uninstall it while we hold it. The handles the loader opens
    // this way (the stick, its partitions, the virtual CD's children) are not torn down
    // while the loader runs: nothing disconnects them but the loader itself.
    unsafe {
        boot::open_protocol::<P>(
            OpenProtocolParams {
                handle,
                agent: boot::image_handle(),
                controller: None,
            },
            OpenProtocolAttributes::GetProtocol,
        )
    }
}

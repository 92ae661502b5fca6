//! Opening a stick: the whole disk -> bootshelf's partition layout (crates/ptable) -> the
//! exFAT volume on its data partition (crates/exfat).

use blockdev::BlockDevice;
use exfat::Volume;

/// The exFAT volume on the data partition of `layout`, over `dev` (the whole disk).
pub fn volume<D: BlockDevice>(dev: D, layout: &ptable::Layout) -> Result<Volume<D>, exfat::Error> {
    Volume::open(dev, layout.data.first_lba, layout.data.sectors())
}

/// Read bootshelf's partition layout from `dev` (the whole disk) and open its data
/// volume.
pub fn open<D: BlockDevice>(
    dev: &mut D,
) -> Result<(ptable::Layout, Volume<&mut D>), crate::DiscoverError> {
    let (_, layout) = ptable::read_layout(dev)?;
    let vol = volume(dev, &layout)?;
    Ok((layout, vol))
}

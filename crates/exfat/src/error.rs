//! The one error type of the crate: every corruption names the structure, the device byte
//! offset where it was found and the value that was wrong.

use alloc::string::String;
use blockdev::IoError;
use core::fmt;

/// Why an exFAT operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The device failed.
    Io(IoError),
    /// An on-disk structure holds a value that breaks the exFAT specification.
    Corrupt {
        /// The structure and field, e.g. "boot sector FatOffset".
        what: &'static str,
        /// Byte offset on the device where it was found.
        offset: u64,
        /// The offending value.
        value: u64,
    },
    /// A checksum does not match.
    BadChecksum {
        /// The checksummed structure.
        what: &'static str,
        /// Byte offset on the device of the structure.
        offset: u64,
        /// The checksum stored on disk.
        stored: u32,
        /// The checksum computed from the data.
        computed: u32,
    },
    /// The volume uses a feature this implementation does not handle.
    Unsupported {
        /// What it is.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// A format or open parameter is impossible (sizes, cluster size, label).
    InvalidParameter {
        /// Which parameter.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// No file or directory by that path.
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// A path component that must be a directory is a file.
    NotADirectory {
        /// The path of the component.
        path: String,
    },
    /// The operation needs a file, the path is a directory.
    IsADirectory {
        /// The path.
        path: String,
    },
    /// The target of a create or rename exists already.
    AlreadyExists {
        /// The path.
        path: String,
    },
    /// A directory to delete still holds entries.
    DirectoryNotEmpty {
        /// The path.
        path: String,
    },
    /// A name that exFAT cannot store.
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Not enough free space (in bytes) for the request.
    NoSpace {
        /// Bytes needed (in whole clusters, contiguous for files).
        needed: u64,
        /// The largest free contiguous run in bytes.
        largest_free_run: u64,
    },
    /// A directory would grow past the 256 MiB exFAT allows.
    DirectoryFull {
        /// The directory's path.
        path: String,
    },
    /// A read reaches past the end of the file.
    OutOfRange {
        /// Requested offset.
        offset: u64,
        /// Requested length.
        len: u64,
        /// File size.
        size: u64,
    },
    /// The clusters a pending file reserved were taken by another write before `commit`.
    ReservationLost {
        /// First cluster of the reservation.
        cluster: u32,
    },
}

impl From<IoError> for Error {
    fn from(e: IoError) -> Self {
        Error::Io(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "exFAT: I/O error: {e}"),
            Error::Corrupt {
                what,
                offset,
                value,
            } => write!(
                f,
                "exFAT: corrupt {what} at device byte offset {offset}: value {value:#x}"
            ),
            Error::BadChecksum {
                what,
                offset,
                stored,
                computed,
            } => write!(
                f,
                "exFAT: bad {what} checksum at device byte offset {offset}: stored {stored:#x}, computed {computed:#x}"
            ),
            Error::Unsupported { what, value } => {
                write!(f, "exFAT: unsupported {what} ({value:#x})")
            }
            Error::InvalidParameter { what, value } => {
                write!(f, "exFAT: invalid {what}: {value}")
            }
            Error::NotFound { path } => write!(f, "exFAT: {path}: no such file or directory"),
            Error::NotADirectory { path } => write!(f, "exFAT: {path}: not a directory"),
            Error::IsADirectory { path } => write!(f, "exFAT: {path}: is a directory"),
            Error::AlreadyExists { path } => write!(f, "exFAT: {path}: already exists"),
            Error::DirectoryNotEmpty { path } => {
                write!(f, "exFAT: {path}: directory not empty")
            }
            Error::InvalidName { name, reason } => {
                write!(f, "exFAT: invalid name {name:?}: {reason}")
            }
            Error::NoSpace {
                needed,
                largest_free_run,
            } => write!(
                f,
                "exFAT: not enough contiguous free space: {needed} bytes needed, largest free run {largest_free_run} bytes"
            ),
            Error::DirectoryFull { path } => {
                write!(f, "exFAT: directory {path} cannot grow past 256 MiB")
            }
            Error::OutOfRange { offset, len, size } => write!(
                f,
                "exFAT: read of {len} bytes at offset {offset} reaches past the end of a {size}-byte file"
            ),
            Error::ReservationLost { cluster } => write!(
                f,
                "exFAT: the clusters reserved from cluster {cluster} were allocated by another write"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

//! exFAT timestamps: the DOS-style packed date and time (2-second resolution, years
//! 1980-2107), a 10 ms increment and a UTC offset byte. bootshelf always writes UTC.

/// A calendar time in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    /// 1980..=2107.
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
}

/// UtcOffset byte meaning "valid, UTC+0".
pub const UTC: u8 = 0x80;

impl DateTime {
    /// 1980-01-01 00:00:00, the epoch of exFAT timestamps; the clock of a volume without a
    /// time source.
    pub const EPOCH: DateTime = DateTime {
        year: 1980,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
    };

    /// The packed timestamp (DoubleSeconds, Minute, Hour, Day, Month, Year-1980), clamped
    /// into the representable range.
    pub fn to_dos(self) -> u32 {
        let year = u32::from(self.year.clamp(1980, 2107) - 1980);
        let month = u32::from(self.month.clamp(1, 12));
        let day = u32::from(self.day.clamp(1, 31));
        let hour = u32::from(self.hour.min(23));
        let minute = u32::from(self.minute.min(59));
        let second = u32::from(self.second.min(59));
        (year << 25) | (month << 21) | (day << 16) | (hour << 11) | (minute << 5) | (second / 2)
    }

    /// The 10 ms increment that carries the odd second.
    pub fn increment_10ms(self) -> u8 {
        if self.second % 2 == 1 {
            100
        } else {
            0
        }
    }

    /// Unpack a DOS timestamp (fields are not range-checked: they come from disk).
    pub fn from_dos(t: u32) -> Self {
        DateTime {
            year: 1980 + ((t >> 25) & 0x7F) as u16,
            month: ((t >> 21) & 0x0F) as u8,
            day: ((t >> 16) & 0x1F) as u8,
            hour: ((t >> 11) & 0x1F) as u8,
            minute: ((t >> 5) & 0x3F) as u8,
            second: ((t & 0x1F) * 2) as u8,
        }
    }

    /// The civil UTC time `secs` seconds after 1970-01-01 (proleptic Gregorian calendar).
    pub fn from_unix(secs: u64) -> Self {
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = if m <= 2 { y + 1 } else { y };
        DateTime {
            year: y.clamp(0, 65535) as u16,
            month: m as u8,
            day: d as u8,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        }
    }
}

/// The system clock (feature `std`).
#[cfg(feature = "std")]
pub fn system_clock() -> DateTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    DateTime::from_unix(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_to_civil_and_dos_round_trip() {
        // 2026-11-21 08:37:31 UTC
        let t = DateTime::from_unix(1_795_250_251);
        assert_eq!(
            t,
            DateTime {
                year: 2026,
                month: 11,
                day: 21,
                hour: 8,
                minute: 37,
                second: 31
            }
        );
        let d = DateTime::from_dos(t.to_dos());
        assert_eq!(d.second, 30);
        assert_eq!(t.increment_10ms(), 100);
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute),
            (2026, 11, 21, 8, 37)
        );
        assert_eq!(DateTime::from_unix(0).to_dos(), DateTime::EPOCH.to_dos());
    }
}

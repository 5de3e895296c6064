//! How the published outputs spell times, all in UTC: [`day`] (`2021-04-04`: post file names,
//! search.json, the site's days), [`format_time`] (`2021-04-04 08:45 UTC`, shown to readers) and
//! [`iso`] (RFC 3339, for `datetime=` attributes and Atom).
//!
//! Years 0–9999 are spelled digit by digit, others through chrono's strftime, which the digits
//! match: a site build spells a few times per article and per list item, and a run one day per
//! post for search.json; parsing the strftime pattern each time was a tenth of a build with
//! nothing to render, `format!` a few percent of a full one.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// The moment `ms` milliseconds after the Unix epoch (the epoch itself when out of range).
pub fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// `2021-04-04`.
pub fn day(ms: i64) -> String {
    spell(ms, "%Y-%m-%d", |_, _| {})
}

/// `2021-04-04 08:45 UTC`.
pub fn format_time(ms: i64) -> String {
    spell(ms, "%Y-%m-%d %H:%M UTC", |out, t| {
        out.push(' ');
        push_clock(out, t, false);
        out.push_str(" UTC");
    })
}

/// `2021-04-04T08:45:53Z`.
pub fn iso(ms: i64) -> String {
    spell(ms, "%Y-%m-%dT%H:%M:%SZ", |out, t| {
        out.push('T');
        push_clock(out, t, true);
        out.push('Z');
    })
}

/// The moment `ms` as `pattern` (a strftime pattern starting with `%Y-%m-%d`) spells it: for a
/// four-digit year, the date digit by digit and then what `rest` adds; otherwise by strftime.
fn spell(ms: i64, pattern: &str, rest: impl FnOnce(&mut String, &DateTime<Utc>)) -> String {
    let t = utc(ms);
    match four_digit_year(&t) {
        Some(year) => {
            let mut out = String::with_capacity(24);
            push_date(&mut out, year, &t);
            rest(&mut out, &t);
            out
        }
        None => t.format(pattern).to_string(),
    }
}

/// The year when `%Y` would print it as four plain digits.
fn four_digit_year(t: &DateTime<Utc>) -> Option<u32> {
    u32::try_from(t.year()).ok().filter(|y| *y <= 9999)
}

/// `YYYY-MM-DD` of `t`, whose year is `year` (0–9999).
fn push_date(out: &mut String, year: u32, t: &DateTime<Utc>) {
    push_two(out, year / 100);
    push_two(out, year % 100);
    out.push('-');
    push_two(out, t.month());
    out.push('-');
    push_two(out, t.day());
}

/// `HH:MM`, and `:SS` with `seconds`.
fn push_clock(out: &mut String, t: &DateTime<Utc>, seconds: bool) {
    push_two(out, t.hour());
    out.push(':');
    push_two(out, t.minute());
    if seconds {
        out.push(':');
        push_two(out, t.second());
    }
}

/// `n` (0–99) as two digits.
pub(super) fn push_two(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_spelled_as_strftime_spells_them() {
        for ms in [
            0,
            1_617_525_953_966,
            -1,
            -62_135_596_800_000,
            -62_135_596_800_001,
            253_402_300_799_999,
            253_402_300_800_000,
            i64::MIN,
            i64::MAX,
        ]
        .into_iter()
        // And a sweep over years 5 to 9999, every field moving.
        .chain((0..10_000).map(|k| -62_000_000_000_000 + k * 31_546_000_123))
        {
            let t = utc(ms);
            assert_eq!(format_time(ms), t.format("%Y-%m-%d %H:%M UTC").to_string());
            assert_eq!(iso(ms), t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            assert_eq!(day(ms), t.format("%Y-%m-%d").to_string());
        }
    }
}

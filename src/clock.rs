//! "Now", as the archive sees it.
//!
//! Every time newsvault records (first seen, fetched, post dates clamped to the present) comes
//! from one [`Clock`], so output can be made reproducible: `NEWSVAULT_NOW=<RFC 3339 time>` fixes
//! the clock at that moment. Nothing else in the crate calls `Utc::now()`.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

/// Environment variable that fixes the clock, e.g. `2021-04-04T08:45:53.966Z`.
pub const NOW_ENV: &str = "NEWSVAULT_NOW";

/// The source of "now" for one command.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed moment, for tests and reproducible runs.
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The clock the environment asks for: fixed when `NEWSVAULT_NOW` is set, else the system's.
    pub fn from_env() -> Result<Clock> {
        match std::env::var(NOW_ENV) {
            Ok(text) if !text.trim().is_empty() => {
                let at = DateTime::parse_from_rfc3339(text.trim())
                    .with_context(|| format!("{NOW_ENV}={text:?} is not an RFC 3339 time"))?;
                Ok(Clock::Fixed(at.with_timezone(&Utc)))
            }
            _ => Ok(Clock::System),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(at) => *at,
        }
    }
}

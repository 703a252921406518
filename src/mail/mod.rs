//! The mail-deliverability records as text: SPF (RFC 7208), DKIM key records (RFC 6376),
//! DMARC (RFC 9989), TXT quoting and splitting, and the DNS name rules they live under.
//! Pure functions only: no AWS, no tokio, no I/O.

pub mod dkim;
pub mod dmarc;
pub mod gateway;
pub mod names;
pub mod record;
pub mod ses_smtp;
pub mod spf;
pub mod txt;

//! How far SES is with verifying what a blueprint wants of an identity: the identity itself
//! and its MAIL FROM domain. One rule for the plan's "still verifying" report, `apply --wait`
//! and `status`. Pending is not failed: SES checks DNS on its own schedule, up to 72 hours.

use serde::Serialize;

use super::{DesiredIdentity, ObservedIdentity, VerificationStatus};

/// Where the identity itself stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// SES has no such identity yet.
    Missing,
    /// SES is checking DNS.
    Pending,
    /// SES stopped checking.
    Failed,
    /// Verified for sending.
    Verified,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Missing => "missing",
            State::Pending => "pending",
            State::Failed => "failed",
            State::Verified => "verified",
        }
    }
}

/// Where a wanted MAIL FROM domain stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailFrom {
    /// The blueprint wants none.
    NotWanted,
    Verified,
    /// SES's status for it; `None` when SES has no MAIL FROM domain for the identity.
    Waiting(Option<VerificationStatus>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub state: State,
    /// SES's verification status, when it has the identity.
    pub verification: Option<VerificationStatus>,
    pub mail_from: MailFrom,
}

/// How far SES is with the identity `id` wants, from what SES holds of it.
pub fn progress(id: &DesiredIdentity, observed: Option<&ObservedIdentity>) -> Progress {
    let Some(o) = observed else {
        return Progress {
            state: State::Missing,
            verification: None,
            mail_from: if id.mail_from.is_some() {
                MailFrom::Waiting(None)
            } else {
                MailFrom::NotWanted
            },
        };
    };
    let state = if o.verified_for_sending {
        State::Verified
    } else if o.verification == VerificationStatus::Failed {
        State::Failed
    } else {
        State::Pending
    };
    let status = o.mail_from.as_ref().map(|m| &m.status);
    let mail_from = match (&id.mail_from, status) {
        (None, _) => MailFrom::NotWanted,
        (Some(_), Some(VerificationStatus::Success)) => MailFrom::Verified,
        (Some(_), s) => MailFrom::Waiting(s.cloned()),
    };
    Progress {
        state,
        verification: Some(o.verification.clone()),
        mail_from,
    }
}

impl Progress {
    /// Nothing left to wait for.
    pub fn is_done(&self) -> bool {
        self.state == State::Verified && !self.mail_from_waiting()
    }

    pub fn mail_from_waiting(&self) -> bool {
        matches!(self.mail_from, MailFrom::Waiting(_))
    }

    /// `verification PENDING`, as people read it.
    pub fn verification_text(&self) -> String {
        match &self.verification {
            Some(v) => format!("verification {v}"),
            None => "no identity yet".into(),
        }
    }

    /// `MAIL FROM PENDING` (`MAIL FROM NOT SET` when SES has none) while it is waited for.
    pub fn mail_from_text(&self) -> Option<String> {
        match &self.mail_from {
            MailFrom::Waiting(s) => Some(format!(
                "MAIL FROM {}",
                s.as_ref().map_or("NOT SET", VerificationStatus::as_str)
            )),
            MailFrom::NotWanted | MailFrom::Verified => None,
        }
    }

    /// What is still pending, for people: `verification PENDING, MAIL FROM NOT SET`; empty
    /// when done.
    pub fn waiting_for(&self) -> String {
        let verification = (self.state != State::Verified).then(|| self.verification_text());
        let parts: Vec<String> = verification
            .into_iter()
            .chain(self.mail_from_text())
            .collect();
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::ses::{DesiredMailFrom, DkimSetting, KeyLength, MxFailure, ObservedMailFrom};

    fn desired(mail_from: bool) -> DesiredIdentity {
        DesiredIdentity {
            domain: "example.com".into(),
            zone: "example.com".into(),
            ttl: 300,
            dkim: DkimSetting::Easy {
                key_length: KeyLength::Rsa2048,
            },
            mail_from: mail_from.then(|| DesiredMailFrom {
                domain: "bounce.example.com".into(),
                behavior: MxFailure::UseDefaultValue,
                spf: "v=spf1 include:amazonses.com -all".into(),
            }),
            configuration_set: None,
            key_policy: None,
            keys: None,
        }
    }

    fn observed(
        verified: bool,
        verification: VerificationStatus,
        mail_from: Option<VerificationStatus>,
    ) -> ObservedIdentity {
        ObservedIdentity {
            tokens: vec![],
            signing_zone: None,
            next_key_length: None,
            dkim_status: verification.clone(),
            verification,
            verified_for_sending: verified,
            mail_from: mail_from.map(|status| ObservedMailFrom {
                domain: "bounce.example.com".into(),
                behavior: MxFailure::UseDefaultValue,
                status,
            }),
            ..ObservedIdentity::example()
        }
    }

    #[test]
    fn what_is_still_pending() {
        use VerificationStatus::{Failed, Pending, Success};
        // (case, MAIL FROM wanted, observed, state, done, what is pending)
        let cases = [
            (
                "no identity",
                true,
                None,
                State::Missing,
                false,
                "no identity yet, MAIL FROM NOT SET",
            ),
            (
                "verified, no MAIL FROM wanted",
                false,
                Some(observed(true, Success, None)),
                State::Verified,
                true,
                "",
            ),
            (
                "verified, MAIL FROM verified",
                true,
                Some(observed(true, Success, Some(Success))),
                State::Verified,
                true,
                "",
            ),
            (
                "verified, MAIL FROM pending",
                true,
                Some(observed(true, Success, Some(Pending))),
                State::Verified,
                false,
                "MAIL FROM PENDING",
            ),
            (
                "verified, MAIL FROM not set",
                true,
                Some(observed(true, Success, None)),
                State::Verified,
                false,
                "MAIL FROM NOT SET",
            ),
            (
                "MAIL FROM not wanted but set",
                false,
                Some(observed(true, Success, Some(Pending))),
                State::Verified,
                true,
                "",
            ),
            (
                "pending",
                true,
                Some(observed(false, Pending, Some(Pending))),
                State::Pending,
                false,
                "verification PENDING, MAIL FROM PENDING",
            ),
            (
                "failed",
                false,
                Some(observed(false, Failed, None)),
                State::Failed,
                false,
                "verification FAILED",
            ),
            (
                "success but not yet for sending",
                false,
                Some(observed(false, Success, None)),
                State::Pending,
                false,
                "verification SUCCESS",
            ),
        ];
        for (name, mail_from, o, state, done, waiting) in cases {
            let p = progress(&desired(mail_from), o.as_ref());
            assert_eq!(p.state, state, "{name}");
            assert_eq!(p.is_done(), done, "{name}");
            assert_eq!(p.waiting_for(), waiting, "{name}");
        }
    }
}

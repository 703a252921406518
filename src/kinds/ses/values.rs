//! SES's enumerations as types. Each is written as SES spells it, in the plan's JSON and in
//! the text people read, and crosses the SDK edge (observe.rs, execute.rs) by that spelling,
//! so the SDK's types stay there. Where SES reports a value (and AWS may add some), an
//! `Other` arm keeps what it said; what only the blueprint chooses is closed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An enum of SES spellings: `as_str`, `Display`, and serde as the spelling. `open` adds
/// `Other(String)` and an infallible `From<&str>`; a closed one parses with `FromStr`.
macro_rules! ses_enum {
    (@common $name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
    ($(#[$m:meta])* open $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)+
            /// A value this version does not know, as SES spelled it.
            Other(String),
        }
        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$v => $s,)+
                    Self::Other(s) => s,
                }
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($s => Self::$v,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self::from(String::deserialize(d)?.as_str()))
            }
        }
        ses_enum!(@common $name);
    };
    ($(#[$m:meta])* closed $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)+
        }
        impl $name {
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$v => $s,)+
                }
            }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok(Self::$v),)+
                    other => Err(format!(
                        "unknown {} `{other}` (one of: {})",
                        stringify!($name),
                        [$($s),+].join(", ")
                    )),
                }
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
            }
        }
        ses_enum!(@common $name);
    };
}

ses_enum! {
    /// The length of the key SES generates for Easy DKIM.
    open KeyLength {
        Rsa1024 = "RSA_1024_BIT",
        Rsa2048 = "RSA_2048_BIT",
    }
}

ses_enum! {
    /// Who holds an identity's DKIM key. SES also reports regional origins
    /// (`AWS_SES_EU_WEST_1`, ...) for keys copied from another region.
    open DkimOrigin {
        /// Easy DKIM: SES.
        AwsSes = "AWS_SES",
        /// BYODKIM: the key's owner.
        External = "EXTERNAL",
    }
}

ses_enum! {
    /// How far SES is with checking DNS: an identity's verification, its DKIM, its MAIL FROM
    /// domain.
    open VerificationStatus {
        Pending = "PENDING",
        Success = "SUCCESS",
        Failed = "FAILED",
        TemporaryFailure = "TEMPORARY_FAILURE",
        NotStarted = "NOT_STARTED",
    }
}

ses_enum! {
    /// What SES does when the MAIL FROM domain's MX is missing.
    open MxFailure {
        /// Send with SES's own MAIL FROM domain.
        UseDefaultValue = "USE_DEFAULT_VALUE",
        RejectMessage = "REJECT_MESSAGE",
    }
}

ses_enum! {
    /// Whether a configuration set's mail must go over TLS.
    open TlsPolicy {
        Require = "REQUIRE",
        Optional = "OPTIONAL",
    }
}

ses_enum! {
    /// Why an address goes on a suppression list.
    open SuppressionReason {
        Bounce = "BOUNCE",
        Complaint = "COMPLAINT",
    }
}

ses_enum! {
    /// The state of AWS's review of a production-access request.
    open ReviewStatus {
        Pending = "PENDING",
        Failed = "FAILED",
        Granted = "GRANTED",
        Denied = "DENIED",
    }
}

ses_enum! {
    /// The kind of mail a production-access request says the account sends.
    closed MailType {
        Transactional = "TRANSACTIONAL",
        Marketing = "MARKETING",
    }
}

ses_enum! {
    /// The language AWS answers a production-access request in.
    closed ContactLanguage {
        En = "EN",
        Ja = "JA",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_and_read_as_ses_spells_them() {
        let json = serde_json::to_string(&(
            KeyLength::Rsa2048,
            DkimOrigin::AwsSes,
            VerificationStatus::TemporaryFailure,
            MxFailure::UseDefaultValue,
            vec![SuppressionReason::Bounce, SuppressionReason::Complaint],
            MailType::Transactional,
            ContactLanguage::Ja,
        ))
        .unwrap();
        assert_eq!(
            json,
            r#"["RSA_2048_BIT","AWS_SES","TEMPORARY_FAILURE","USE_DEFAULT_VALUE",["BOUNCE","COMPLAINT"],"TRANSACTIONAL","JA"]"#
        );
        let back: (KeyLength, DkimOrigin, VerificationStatus) =
            serde_json::from_str(r#"["RSA_1024_BIT","EXTERNAL","SUCCESS"]"#).unwrap();
        assert_eq!(
            back,
            (
                KeyLength::Rsa1024,
                DkimOrigin::External,
                VerificationStatus::Success
            )
        );
    }

    #[test]
    fn a_value_ses_adds_later_is_kept_as_spelled() {
        let origin = DkimOrigin::from("AWS_SES_EU_WEST_1");
        assert_eq!(origin, DkimOrigin::Other("AWS_SES_EU_WEST_1".into()));
        assert_ne!(origin, DkimOrigin::AwsSes);
        assert_eq!(origin.to_string(), "AWS_SES_EU_WEST_1");
        assert_eq!(
            serde_json::to_string(&origin).unwrap(),
            r#""AWS_SES_EU_WEST_1""#
        );
        let status: VerificationStatus = serde_json::from_str(r#""PAUSED""#).unwrap();
        assert_eq!(status.as_str(), "PAUSED");
    }

    #[test]
    fn a_closed_value_refuses_what_it_does_not_know() {
        assert_eq!("MARKETING".parse::<MailType>(), Ok(MailType::Marketing));
        let err = serde_json::from_str::<ContactLanguage>(r#""FR""#).unwrap_err();
        assert!(
            err.to_string().contains("unknown ContactLanguage `FR`"),
            "{err}"
        );
    }
}

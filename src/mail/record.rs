//! What a DNS record is: its type, and what mailinfra publishes it for. Logic that depends
//! on either matches on these, never on their spelling.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A DNS record type, spelled as Route 53 spells it (`TXT`). Types mailinfra reasons about
/// have a variant; any other type a zone holds is kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum RType {
    A,
    Aaaa,
    Cname,
    Mx,
    Ns,
    Ptr,
    Soa,
    /// The obsolete SPF type (RFC 7208 §3.1): compared as text like TXT.
    Spf,
    Txt,
    Other(String),
}

impl RType {
    pub fn as_str(&self) -> &str {
        match self {
            RType::A => "A",
            RType::Aaaa => "AAAA",
            RType::Cname => "CNAME",
            RType::Mx => "MX",
            RType::Ns => "NS",
            RType::Ptr => "PTR",
            RType::Soa => "SOA",
            RType::Spf => "SPF",
            RType::Txt => "TXT",
            RType::Other(s) => s,
        }
    }
}

impl From<&str> for RType {
    fn from(s: &str) -> Self {
        match s {
            "A" => RType::A,
            "AAAA" => RType::Aaaa,
            "CNAME" => RType::Cname,
            "MX" => RType::Mx,
            "NS" => RType::Ns,
            "PTR" => RType::Ptr,
            "SOA" => RType::Soa,
            "SPF" => RType::Spf,
            "TXT" => RType::Txt,
            other => RType::Other(other.to_owned()),
        }
    }
}

impl From<String> for RType {
    fn from(s: String) -> Self {
        RType::from(s.as_str())
    }
}

impl From<RType> for String {
    fn from(t: RType) -> Self {
        t.as_str().to_owned()
    }
}

impl fmt::Display for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for RType {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// What mailinfra publishes a record for. Serialized as the label plans show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Purpose {
    #[serde(rename = "SPF")]
    Spf,
    #[serde(rename = "DMARC")]
    Dmarc,
    /// A DKIM key the blueprint gives.
    #[serde(rename = "DKIM")]
    Dkim,
    #[serde(rename = "gateway A")]
    GatewayA,
    /// The gateway's generated DKIM key.
    #[serde(rename = "gateway DKIM")]
    GatewayDkim,
    /// Easy DKIM CNAMEs or a BYODKIM key for SES.
    #[serde(rename = "SES DKIM")]
    SesDkim,
    /// The MX of a custom MAIL FROM domain.
    #[serde(rename = "MAIL FROM")]
    MailFromMx,
    #[serde(rename = "MAIL FROM SPF")]
    MailFromSpf,
    /// `<domain>._report._dmarc.<report domain>`: the report domain's consent to receive
    /// another domain's DMARC reports (RFC 9989 §4.7.1).
    #[serde(rename = "DMARC report authorization")]
    DmarcReportAuth,
}

impl Purpose {
    /// The label plans and errors show.
    pub fn label(self) -> &'static str {
        match self {
            Purpose::Spf => "SPF",
            Purpose::Dmarc => "DMARC",
            Purpose::Dkim => "DKIM",
            Purpose::GatewayA => "gateway A",
            Purpose::GatewayDkim => "gateway DKIM",
            Purpose::SesDkim => "SES DKIM",
            Purpose::MailFromMx => "MAIL FROM",
            Purpose::MailFromSpf => "MAIL FROM SPF",
            Purpose::DmarcReportAuth => "DMARC report authorization",
        }
    }

    pub fn is_dkim(self) -> bool {
        matches!(
            self,
            Purpose::Dkim | Purpose::GatewayDkim | Purpose::SesDkim
        )
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A change's purpose in the plan's JSON: the label, or `""` for the deletion of a whole set
/// the blueprint no longer wants (format version 3 keeps that spelling).
pub mod optional_label {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Purpose;

    pub fn serialize<S: Serializer>(p: &Option<Purpose>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some(p) => p.serialize(s),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Purpose>, D::Error> {
        let label = String::deserialize(d)?;
        if label.is_empty() {
            return Ok(None);
        }
        Purpose::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(&label)).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_through_their_spelling() {
        for t in [
            "A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SPF", "TXT", "CAA",
        ] {
            let rtype = RType::from(t);
            assert_eq!(rtype.as_str(), t);
            let json = serde_json::to_string(&rtype).unwrap();
            assert_eq!(json, format!("\"{t}\""));
            assert_eq!(serde_json::from_str::<RType>(&json).unwrap(), rtype);
        }
        assert_eq!(RType::from("CAA"), RType::Other("CAA".into()));
    }

    #[test]
    fn purposes_serialize_as_their_labels() {
        for p in [
            Purpose::Spf,
            Purpose::Dmarc,
            Purpose::Dkim,
            Purpose::GatewayA,
            Purpose::GatewayDkim,
            Purpose::SesDkim,
            Purpose::MailFromMx,
            Purpose::MailFromSpf,
            Purpose::DmarcReportAuth,
        ] {
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.label())
            );
        }
    }
}

//! DNS lookups for `check`, through hickory-resolver: the system's resolver, or the one
//! `--resolver` names. Every answer is one of: found, no records (NXDOMAIN or no data of that
//! type), or failed (timeout, SERVFAIL, refused): a failure is never read as "absent".

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    Found(Vec<T>),
    NoRecords,
    Failed(String),
}

pub struct Dns {
    resolver: Resolver<TokioConnectionProvider>,
    pub server: String,
    /// Names inside this zone go to its own name servers instead (see [`Dns::within`]).
    authoritative: Option<(String, Resolver<TokioConnectionProvider>)>,
}

fn resolver(servers: &[SocketAddr], timeout: Duration) -> Resolver<TokioConnectionProvider> {
    let mut config = ResolverConfig::new();
    for addr in servers {
        config.add_name_server(NameServerConfig::new(*addr, Protocol::Udp));
        config.add_name_server(NameServerConfig::new(*addr, Protocol::Tcp));
    }
    Resolver::builder_with_config(config, TokioConnectionProvider::default())
        .with_options(options(timeout))
        .build()
}

fn options(timeout: Duration) -> ResolverOpts {
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts
}

impl Dns {
    /// A resolver using `server` (UDP, then TCP), or the system's configuration.
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Result<Dns, String> {
        let (resolver, name) = match server {
            Some(addr) => (resolver(&[addr], timeout), addr.to_string()),
            None => (
                Resolver::builder(TokioConnectionProvider::default())
                    .map_err(|e| format!("cannot read the system's resolver configuration: {e}"))?
                    .with_options(options(timeout))
                    .build(),
                "the system resolver".to_owned(),
            ),
        };
        Ok(Dns {
            resolver,
            server: name,
            authoritative: None,
        })
    }

    /// The same lookups, except that names inside `zone` go to `servers`, the zone's own name
    /// servers: what resolvers will answer once their cached answers expire. Names outside the
    /// zone (an SPF include of another domain) still go through the resolver.
    pub fn within(&self, zone: &str, servers: &[SocketAddr], timeout: Duration) -> Dns {
        Dns {
            resolver: self.resolver.clone(),
            server: self.server.clone(),
            authoritative: Some((zone.to_owned(), resolver(servers, timeout))),
        }
    }

    async fn lookup(&self, name: &str, rtype: RecordType) -> Answer<RData> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let resolver = match &self.authoritative {
            Some((zone, r)) if crate::mail::names::is_within(&name.to_ascii_lowercase(), zone) => r,
            _ => &self.resolver,
        };
        match resolver.lookup(fqdn.as_str(), rtype).await {
            Ok(l) => {
                let found: Vec<RData> = l
                    .record_iter()
                    .filter(|r| r.record_type() == rtype)
                    .map(|r| r.data().clone())
                    .collect();
                if found.is_empty() {
                    Answer::NoRecords
                } else {
                    Answer::Found(found)
                }
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => {
                // A SERVFAIL or REFUSED also comes back as "no records", with its code.
                let code = e.proto().and_then(|p| match p.kind() {
                    ProtoErrorKind::NoRecordsFound { response_code, .. } => Some(*response_code),
                    _ => None,
                });
                match code {
                    Some(ResponseCode::ServFail) => {
                        Answer::Failed("the resolver answered SERVFAIL".into())
                    }
                    Some(ResponseCode::Refused) => {
                        Answer::Failed("the resolver answered REFUSED".into())
                    }
                    _ => Answer::NoRecords,
                }
            }
            Err(e) => Answer::Failed(e.to_string()),
        }
    }

    fn map<T>(a: Answer<RData>, f: impl Fn(RData) -> Option<T>) -> Answer<T> {
        match a {
            Answer::Found(v) => {
                let v: Vec<T> = v.into_iter().filter_map(f).collect();
                if v.is_empty() {
                    Answer::NoRecords
                } else {
                    Answer::Found(v)
                }
            }
            Answer::NoRecords => Answer::NoRecords,
            Answer::Failed(w) => Answer::Failed(w),
        }
    }

    /// Each TXT record as the text a receiver reads (its strings joined).
    pub async fn txt(&self, name: &str) -> Answer<String> {
        Self::map(self.lookup(name, RecordType::TXT).await, |r| match r {
            RData::TXT(t) => Some(
                t.txt_data()
                    .iter()
                    .map(|s| String::from_utf8_lossy(s))
                    .collect(),
            ),
            _ => None,
        })
    }

    pub async fn a(&self, name: &str) -> Answer<Ipv4Addr> {
        Self::map(self.lookup(name, RecordType::A).await, |r| match r {
            RData::A(a) => Some(a.0),
            _ => None,
        })
    }

    pub async fn aaaa(&self, name: &str) -> Answer<std::net::Ipv6Addr> {
        Self::map(self.lookup(name, RecordType::AAAA).await, |r| match r {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
    }

    pub async fn cname(&self, name: &str) -> Answer<String> {
        Self::map(self.lookup(name, RecordType::CNAME).await, |r| match r {
            RData::CNAME(c) => Some(c.0.to_ascii().trim_end_matches('.').to_ascii_lowercase()),
            _ => None,
        })
    }

    pub async fn mx(&self, name: &str) -> Answer<(u16, String)> {
        Self::map(self.lookup(name, RecordType::MX).await, |r| match r {
            RData::MX(m) => Some((
                m.preference(),
                m.exchange()
                    .to_ascii()
                    .trim_end_matches('.')
                    .to_ascii_lowercase(),
            )),
            _ => None,
        })
    }

    pub async fn ns(&self, name: &str) -> Answer<String> {
        Self::map(self.lookup(name, RecordType::NS).await, |r| match r {
            RData::NS(n) => Some(n.0.to_ascii().trim_end_matches('.').to_ascii_lowercase()),
            _ => None,
        })
    }

    pub async fn ptr(&self, ip: IpAddr) -> Answer<String> {
        let IpAddr::V4(v4) = ip else {
            return Answer::Failed("IPv6 reverse DNS is not checked".into());
        };
        let o = v4.octets();
        let name = format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0]);
        Self::map(self.lookup(&name, RecordType::PTR).await, |r| match r {
            RData::PTR(p) => Some(p.0.to_ascii().trim_end_matches('.').to_ascii_lowercase()),
            _ => None,
        })
    }
}

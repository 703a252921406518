//! AWS clients built from one shared `SdkConfig` (profile, region, endpoint, retries), the
//! Route 53 request pacing, and turning SDK errors into sentences a person can act on.
//! SDK types may appear here and in `observe`/`execute`, nowhere else.

pub mod ops;
pub mod partition;
pub mod poll;

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_route53::config::endpoint::Endpoint;
use aws_sdk_route53::config::{ConfigBag, SharedAsyncSleep};
use aws_sdk_route53::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{Connector, ConnectorBuilder, tls};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    Error as ErasedError, FinalizerInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Where and as whom to talk to AWS, resolved from flags, environment and blueprint.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// With `-vv`: a line per AWS call (operation, host, outcome, duration, attempts).
    pub trace: Option<crate::output::Output>,
}

/// Route 53 allows five requests a second per account; mailinfra stays under that instead of
/// bouncing off it.
pub const ROUTE53_REQUESTS_PER_SECOND: f64 = 5.0;

/// The SES API (apart from sending) is throttled at one request a second (SES quotas).
/// `MAILINFRA_SES_REQUESTS_PER_SECOND` raises it for an emulator; AWS does not raise it.
pub const SES_REQUESTS_PER_SECOND: f64 = 1.0;
/// SES's bucket starts with this many requests, so a short plan does not wait.
const SES_BURST: f64 = 5.0;

/// The connected clients.
pub struct Aws {
    pub route53: aws_sdk_route53::Client,
    pub route53_pace: Pace,
    pub ses: aws_sdk_sesv2::Client,
    pub ses_pace: Pace,
    pub sts: aws_sdk_sts::Client,
    /// The Resource Groups Tagging API, in the SES region: finds the blueprint's identities.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub ssm: aws_sdk_ssm::Client,
    /// KMS: the key that encrypts the gateway's DKIM private key.
    pub kms: aws_sdk_kms::Client,
    /// CloudWatch Logs: the gateway's bounce list.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// The region SES is used in.
    pub region: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "{0}\n  = hint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile with --profile or AWS_PROFILE (then `aws sso login` for SSO), or give the CI job a role (OIDC web identity)"
    )]
    Credentials(String),
    #[error("{operation} failed: {message}{}", hint.as_ref().map(|h| format!("\n  = hint: {h}")).unwrap_or_default())]
    Call {
        operation: &'static str,
        code: Option<String>,
        message: String,
        hint: Option<String>,
    },
    /// The profile signs in through IAM Identity Center (or `aws login`) and no valid login
    /// is cached: the one thing to do is the login command.
    #[error(
        "profile `{profile}` signs in through {through} and has no valid cached login: run `{command} --profile {profile}`"
    )]
    Login {
        profile: String,
        through: &'static str,
        command: &'static str,
    },
    /// Another run holds the blueprint's lock (`crate::lock`).
    #[error(
        "cannot take the lock: {why} (waited {} s)\n  = hint: wait for that run, or pass --lock-timeout 10m to wait for it; if it is gone (killed), its lock expires at the time above and is taken over then, or delete the parameter under {path}",
        waited.as_secs()
    )]
    Locked {
        why: String,
        waited: std::time::Duration,
        path: String,
    },
    /// Ctrl-C: the run stopped before `next`, after the step in flight.
    #[error(
        "interrupted: stopped before {next}; every change before it was made\n  = hint: run the same command again to finish"
    )]
    Interrupted { next: String },
    #[error("{0}")]
    Other(String),
}

impl AwsError {
    /// Builds the error for a failed SDK call, as one sentence: the service's code and
    /// message where there is one; for a connection that failed or an answer that could not
    /// be read, what happened and with which host, never the SDK's debug dump; and how many
    /// attempts were made when the SDK retried.
    pub fn call<E>(op: &'static ops::Op, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let sent = Sent::of(&err);
        let code = err.code().map(str::to_owned);
        let (message, hint) = match (&code, err.message()) {
            (Some(c), msg) if REFUSED_CREDENTIALS.contains(&c.as_str()) => (
                sent.after(format!("AWS refused the credentials ({c}{})", msg.map(|m| format!(": {m}")).unwrap_or_default())),
                Some("they are expired or wrong: renew them (`aws sso login`, a fresh CI role session) or check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".into()),
            ),
            (Some(c), Some(msg)) if ACCESS_DENIED.contains(&c.as_str()) => (
                sent.after(format!("{c}: {msg}")),
                Some(if op.need == ops::Need::Bootstrap {
                    format!("the credentials may not call {}: only the bootstrap role changes the gateway's permissions boundary or KMS key policy, or moves its DKIM key under that KMS key; an administrator runs this apply once with the policy `mailinfra policy FILE --for bootstrap` prints (docs/ci.md)", op.action())
                } else {
                    format!("the credentials may not call {}: `mailinfra policy FILE --for apply` prints the policy apply and destroy need, `--for plan` the one for plan, check and status (docs/ci.md)", op.action())
                }),
            ),
            (Some(code), Some(msg)) => (sent.after(format!("{code}: {msg}")), None),
            (Some(code), None) => (sent.after(code.clone()), None),
            (None, _) => unanswered(&err, &sent),
        };
        AwsError::Call {
            operation: op.name,
            code,
            message,
            hint,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Call { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// The sentence for a call that got no usable answer: no connection, no response in time,
/// or an answer that is not AWS's (an HTML error page, a body that does not parse). It names
/// the host and what went wrong, from the innermost cause, never the SDK's debug dump.
fn unanswered<E>(err: &SdkError<E, HttpResponse>, sent: &Sent) -> (String, Option<String>)
where
    E: std::error::Error + 'static,
{
    let endpoint_hint = "check the network and the endpoint (--endpoint-url / AWS_ENDPOINT_URL)";
    let cause = root_cause(err);
    match err {
        SdkError::TimeoutError(_) => (
            timeouts().describe(&cause, sent),
            Some(format!(
                "AWS or the network is not answering; try again later, or check the endpoint (--endpoint-url / AWS_ENDPOINT_URL); {ATTEMPT_TIMEOUT_VAR} and {OPERATION_TIMEOUT_VAR} set the bounds"
            )),
        ),
        SdkError::DispatchFailure(_) => (
            sent.after(format!("no answer from {}: {cause}", sent.host())),
            Some(endpoint_hint.into()),
        ),
        SdkError::ResponseError(_) | SdkError::ServiceError(_) => {
            let status = err
                .raw_response()
                .map(|r| r.status().as_u16())
                .unwrap_or_default();
            (
                sent.after(format!(
                    "{} answered HTTP {status} with a body that is not an AWS answer ({cause})",
                    sent.host()
                )),
                Some(
                    "check that the endpoint is AWS's (--endpoint-url / AWS_ENDPOINT_URL), or a proxy in between; if it is, try again later".into(),
                ),
            )
        }
        _ => (chain(err), None),
    }
}

/// How a failed call went, as [`RecordSent`] left it on the error: the attempts the SDK made
/// and the host they went to.
#[derive(Debug, Clone, Default, PartialEq)]
struct Sent {
    attempts: u32,
    host: String,
}

impl Sent {
    /// In the last response's extensions when one came, else around the error.
    fn of<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: std::error::Error + 'static,
    {
        if let Some(sent) = err.raw_response().and_then(|r| r.extension::<Sent>()) {
            return sent.clone();
        }
        causes(err)
            .find_map(|e| e.downcast_ref::<Unanswered>())
            .map(|u| u.sent.clone())
            .unwrap_or_default()
    }

    fn host(&self) -> &str {
        if self.host.is_empty() {
            "the endpoint"
        } else {
            &self.host
        }
    }

    /// The sentence, saying how many attempts were made when the SDK retried.
    fn after(&self, what: String) -> String {
        if self.attempts > 1 {
            format!("{what} (after {} attempts)", self.attempts)
        } else {
            what
        }
    }
}

/// A call that got no response (connection failure, timeout): the SDK's error, reduced to its
/// innermost cause's text, with the attempts and the host.
#[derive(Debug)]
struct Unanswered {
    sent: Sent,
    cause: String,
}

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.cause)
    }
}

impl std::error::Error for Unanswered {}

/// Every client's interceptor: when a call fails, records the attempts the SDK made and the
/// endpoint's host ([`Sent`]) where [`AwsError::call`] finds them: in the last response's
/// extensions when there is one; else it replaces the connection or timeout error by one of
/// the same kind around [`Unanswered`]. The call is over by then, so nothing classifies the
/// error again; only its text is kept.
#[derive(Debug)]
struct RecordSent;

/// With `-vv`, one stderr line per AWS call once it ends:
/// `aws: ec2.DescribeInstances 127.0.0.1:5000 200 12 ms` (`, 3 attempts` when retried).
#[derive(Debug)]
struct Trace(crate::output::Output);

/// When the call started (in the call's config bag).
#[derive(Debug, Clone)]
struct Started(Instant);

impl aws_smithy_types::config_bag::Storable for Started {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl Intercept for Trace {
    fn name(&self) -> &'static str {
        "mailinfra::Trace"
    }

    fn read_before_execution(
        &self,
        _: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<
            '_,
        >,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            // "Route 53" is the service's name in the SDK's metadata: `route53.ListHostedZones`.
            .map(|m| {
                format!(
                    "{}.{}",
                    m.service().to_lowercase().replace(' ', ""),
                    m.name()
                )
            })
            .unwrap_or_else(|| "?".into());
        let host = cfg
            .load::<Endpoint>()
            .map(|e| host_of(e.url()).to_owned())
            .unwrap_or_default();
        let outcome = match (ctx.response(), ctx.output_or_error()) {
            (Some(r), _) => r.status().as_u16().to_string(),
            (None, Some(Err(_))) => "no answer".into(),
            (None, _) => "?".into(),
        };
        let ms = cfg
            .load::<Started>()
            .map_or(0, |s| s.0.elapsed().as_millis());
        let attempts = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        let retried = if attempts > 1 {
            format!(", {attempts} attempts")
        } else {
            String::new()
        };
        self.0
            .debug(&format!("aws: {op} {host} {outcome} {ms} ms{retried}"));
        Ok(())
    }
}

impl Intercept for RecordSent {
    fn name(&self) -> &'static str {
        "mailinfra::RecordSent"
    }

    fn modify_before_completion(
        &self,
        ctx: &mut FinalizerInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !matches!(ctx.output_or_error(), Some(Err(_))) {
            return Ok(());
        }
        let sent = Sent {
            attempts: cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts()),
            host: cfg
                .load::<Endpoint>()
                .map(|e| host_of(e.url()).to_owned())
                .unwrap_or_default(),
        };
        if let Some(response) = ctx.response_mut() {
            response.add_extension(sent);
        } else if let Some(Err(e)) = ctx.output_or_error_mut()
            && let Some(replaced) = around(e, sent)
        {
            *e = replaced;
        }
        Ok(())
    }
}

/// A connection or timeout error rebuilt, of the same kind, around [`Unanswered`].
fn around(
    e: &OrchestratorError<ErasedError>,
    sent: Sent,
) -> Option<OrchestratorError<ErasedError>> {
    let unanswered = |e: &(dyn std::error::Error + 'static)| -> BoxError {
        Box::new(Unanswered {
            sent: sent.clone(),
            cause: root_cause(e),
        })
    };
    if let Some(c) = e.as_connector_error() {
        let cause = unanswered(c);
        Some(OrchestratorError::connector(if c.is_timeout() {
            ConnectorError::timeout(cause)
        } else if c.is_io() {
            ConnectorError::io(cause)
        } else if c.is_user() {
            ConnectorError::user(cause)
        } else {
            ConnectorError::other(cause, c.as_other())
        }))
    } else if e.is_timeout_error() {
        let source = std::error::Error::source(e)?;
        Some(OrchestratorError::timeout(unanswered(source)))
    } else {
        None
    }
}

/// `host:port` of an endpoint URL.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// An error and its sources, outermost first.
fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// The innermost cause's text: what actually went wrong ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    causes(e)
        .last()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Attempts per request (the SDK's standard retry: throttling, 5xx, timeouts).
const MAX_ATTEMPTS: u32 = 5;

/// How long one attempt may wait for its response before the SDK abandons it and retries.
/// The SDK sets no such bound by default (only a 3.1 s connect timeout), so a response that
/// never comes would hang a run as long as it stalls; AWS recommends bounding both the
/// attempt and the whole call
/// (<https://docs.aws.amazon.com/sdk-for-rust/latest/dg/timeouts.html>). AWS API calls answer
/// in well under a second; 30 s leaves room for a slow network.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// The bound on one call, every attempt and the backoff between them included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(180);
/// Environment variables that change the bounds (seconds, fractions allowed), for tests
/// against a stalling emulator or a very slow network.
pub const ATTEMPT_TIMEOUT_VAR: &str = "MAILINFRA_AWS_ATTEMPT_TIMEOUT";
pub const OPERATION_TIMEOUT_VAR: &str = "MAILINFRA_AWS_OPERATION_TIMEOUT";

/// The request bounds in force, for the error that reports one.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Timeouts {
    attempt: Duration,
    operation: Duration,
}

static TIMEOUTS: OnceLock<Timeouts> = OnceLock::new();

fn timeouts() -> Timeouts {
    *TIMEOUTS.get_or_init(|| Timeouts::from_env(|k| std::env::var(k).ok()))
}

impl Timeouts {
    fn from_env(var: impl Fn(&str) -> Option<String>) -> Self {
        let seconds = |name: &str, default: Duration| {
            var(name)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0)
                .map_or(default, Duration::from_secs_f64)
        };
        Self {
            attempt: seconds(ATTEMPT_TIMEOUT_VAR, ATTEMPT_TIMEOUT),
            operation: seconds(OPERATION_TIMEOUT_VAR, OPERATION_TIMEOUT),
        }
    }

    /// What a timeout error means, from the SDK's text of which bound fired.
    fn describe(&self, sdk_text: &str, sent: &Sent) -> String {
        if sdk_text.contains("all attempts") {
            sent.after(format!(
                "no response from AWS within {} (the bound on one call, retries included) at {}",
                secs(self.operation),
                sent.host()
            ))
        } else {
            format!(
                "no response from AWS within {} in any of {} attempts at {}",
                secs(self.attempt),
                sent.attempts.max(1),
                sent.host()
            )
        }
    }
}

/// A duration as a person writes it: "30 s", "1.5 s".
fn secs(d: Duration) -> String {
    format!("{} s", (d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Loads the shared configuration and checks that credentials resolve, before any request.
pub async fn connect(settings: &AwsSettings) -> Result<Aws, AwsError> {
    let bounds = timeouts();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(bounds.attempt)
                .operation_timeout(bounds.operation)
                .build(),
        );
    if let Some(p) = &settings.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &settings.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(e) = &settings.endpoint_url {
        loader = loader.endpoint_url(e);
    }
    loader = loader.http_client(SharedHttpClient::new(LazyHttpClient::default()));
    let mut config = loader.load().await;
    if config.region().is_none() {
        // Route 53 is global; a region is needed only to sign.
        config = config
            .into_builder()
            .region(Region::new("us-east-1"))
            .build();
    }
    let provider = config
        .credentials_provider()
        .ok_or_else(|| AwsError::Credentials("no credential provider is configured".into()))?;
    if let Err(e) = provider.provide_credentials().await {
        if let Some(login) = login_profile(settings).await {
            return Err(login);
        }
        return Err(AwsError::Credentials(credentials_problem(&e, settings)));
    }
    let ses_rate = std::env::var("MAILINFRA_SES_REQUESTS_PER_SECOND")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|r| *r > 0.0)
        .unwrap_or(SES_REQUESTS_PER_SECOND);
    // Every client records how its failed calls went, for the error text.
    macro_rules! client {
        ($sdk:ident) => {{
            let mut builder = $sdk::config::Builder::from(&config).interceptor(RecordSent);
            if let Some(out) = &settings.trace {
                builder = builder.interceptor(Trace(out.clone()));
            }
            $sdk::Client::from_conf(builder.build())
        }};
    }
    Ok(Aws {
        route53: client!(aws_sdk_route53),
        route53_pace: Pace::new(ROUTE53_REQUESTS_PER_SECOND),
        ses: client!(aws_sdk_sesv2),
        ses_pace: Pace::with_burst(ses_rate, SES_BURST.max(ses_rate)),
        sts: client!(aws_sdk_sts),
        tagging: client!(aws_sdk_resourcegroupstagging),
        ec2: client!(aws_sdk_ec2),
        iam: client!(aws_sdk_iam),
        ssm: client!(aws_sdk_ssm),
        kms: client!(aws_sdk_kms),
        logs: client!(aws_sdk_cloudwatchlogs),
        region: config.region().map(|r| r.to_string()).unwrap_or_default(),
    })
}

/// The one HTTP client every AWS client and credential provider uses.
///
/// The SDK's default gives each client its own HTTP client, and each builds a TLS connector
/// when the client is made (to validate it) and again for its first request: a plan built
/// twelve, each parsing the system's root certificates into a trust store (the certificates
/// themselves are read from disk once, in the SDK). Here the connectors are the SDK's own
/// (`aws-smithy-http-client`, rustls with aws-lc, proxies from the environment as the SDK
/// does), shared by every client, and built on the first request that needs them: a TLS one
/// only for an `https` endpoint, so a command that sends nothing, or talks plain HTTP to a
/// local emulator, never loads the certificate store.
#[derive(Debug, Default)]
struct LazyHttpClient {
    /// One connector per distinct timeout setting (all clients share one today).
    by_settings: std::sync::Mutex<Vec<(ConnectorKey, SharedHttpConnector)>>,
}

type ConnectorKey = (Option<Duration>, Option<Duration>);

impl HttpClient for LazyHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut cache = self
            .by_settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, c)) = cache.iter().find(|(k, _)| *k == key) {
            return c.clone();
        }
        let connector =
            SharedHttpConnector::new(ByScheme::new(settings.clone(), components.sleep_impl()));
        cache.push((key, connector.clone()));
        connector
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        // What the SDK's default client reports (it goes into the user agent).
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

/// A connector that builds its plain and its TLS half the first time a request needs it.
#[derive(Debug)]
struct ByScheme {
    settings: HttpConnectorSettings,
    sleep: Option<SharedAsyncSleep>,
    plain: OnceLock<Connector>,
    tls: OnceLock<Connector>,
}

impl ByScheme {
    fn new(settings: HttpConnectorSettings, sleep: Option<SharedAsyncSleep>) -> Self {
        Self {
            settings,
            sleep,
            plain: OnceLock::new(),
            tls: OnceLock::new(),
        }
    }

    fn builder(&self) -> ConnectorBuilder {
        let mut builder = Connector::builder()
            .connector_settings(self.settings.clone())
            .proxy_config(ProxyConfig::from_env());
        builder.set_sleep_impl(self.sleep.clone());
        builder
    }
}

impl HttpConnector for ByScheme {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let connector = if request.uri().starts_with("http://") {
            self.plain.get_or_init(|| self.builder().build_http())
        } else {
            self.tls.get_or_init(|| {
                self.builder()
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::AwsLc,
                    ))
                    .build()
            })
        };
        connector.call(request)
    }
}

/// Error codes with which AWS refuses a request its credentials may not make (EC2's, IAM's,
/// Route 53's and STS's, then the JSON protocols' SSM, SES and tagging).
const ACCESS_DENIED: &[&str] = &[
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
];

/// Error codes with which AWS refuses credentials that loaded but are no good.
const REFUSED_CREDENTIALS: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
];

/// When the selected profile signs in through IAM Identity Center (`sso_session` or
/// `sso_start_url`) or `aws login` (`login_session`), the error that names its login
/// command: a missing or expired cached login is the usual reason such a profile fails.
async fn login_profile(settings: &AwsSettings) -> Option<AwsError> {
    use aws_types::os_shim_internal::{Env, Fs};
    let profiles = aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &Default::default(),
        settings.profile.clone().map(Cow::Owned),
    )
    .await
    .ok()?;
    let name = profiles.selected_profile();
    let profile = profiles.get_profile(name)?;
    let (through, command) =
        if profile.get("sso_session").is_some() || profile.get("sso_start_url").is_some() {
            ("IAM Identity Center (SSO)", "aws sso login")
        } else if profile.get("login_session").is_some() {
            ("`aws login`", "aws login")
        } else {
            return None;
        };
    Some(AwsError::Login {
        profile: name.to_owned(),
        through,
        command,
    })
}

/// One sentence on why no credentials could be had, naming where the chain looked.
fn credentials_problem(
    e: &aws_credential_types::provider::error::CredentialsError,
    settings: &AwsSettings,
) -> String {
    use aws_credential_types::provider::error::CredentialsError as C;
    let profile = settings
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok())
        .unwrap_or_else(|| "default".into());
    let sources = format!(
        "environment variables, profile `{profile}` in ~/.aws/config and ~/.aws/credentials (SSO included), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), container credentials, EC2 instance metadata"
    );
    match e {
        C::CredentialsNotLoaded(_) => format!("no AWS credentials found; looked in: {sources}"),
        C::ProviderTimedOut(_) => {
            format!("timed out loading AWS credentials; looked in: {sources}")
        }
        _ => format!(
            "loading AWS credentials failed: {}; looked in: {sources}",
            chain(e)
        ),
    }
}

/// An error and its sources as one readable line (Display, never Debug).
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// A token bucket: bursts up to its size, then one request every 1/rate seconds.
pub struct Pace {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Pace {
    pub fn new(rate: f64) -> Self {
        Self::with_burst(rate, rate)
    }

    pub fn with_burst(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Waits until a request may be sent.
    pub async fn wait(&self) {
        let mut state = self.state.lock().await;
        let (tokens, last) = *state;
        let now = Instant::now();
        let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            return;
        }
        let wait = Duration::from_secs_f64((1.0 - tokens) / self.rate);
        tokio::time::sleep(wait).await;
        *state = (0.0, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pace_allows_a_burst_then_spaces_requests() {
        let pace = Pace::new(5.0);
        let start = Instant::now();
        for _ in 0..5 {
            pace.wait().await;
        }
        assert!(start.elapsed() < Duration::from_millis(10));
        for _ in 0..5 {
            pace.wait().await;
        }
        let spent = start.elapsed();
        assert!(spent >= Duration::from_millis(990), "{spent:?}");
        assert!(spent <= Duration::from_millis(1100), "{spent:?}");
    }

    #[test]
    fn timeouts_default_to_30_s_per_attempt_and_3_min_per_call_and_read_the_environment() {
        let none = Timeouts::from_env(|_| None);
        assert_eq!(none.attempt, Duration::from_secs(30));
        assert_eq!(none.operation, Duration::from_secs(180));
        let set = Timeouts::from_env(|k| {
            Some(match k {
                ATTEMPT_TIMEOUT_VAR => "0.5".into(),
                _ => "7".into(),
            })
        });
        assert_eq!(set.attempt, Duration::from_millis(500));
        assert_eq!(set.operation, Duration::from_secs(7));
        // Nonsense keeps the default rather than disabling the bound.
        for bad in ["0", "-1", "NaN", "inf", "soon"] {
            let t = Timeouts::from_env(|_| Some(bad.into()));
            assert_eq!(t, none, "{bad}");
        }
        let sent = |attempts| Sent {
            attempts,
            host: "ec2.eu-west-1.amazonaws.com".into(),
        };
        assert_eq!(
            set.describe(
                "operation attempt timeout (single attempt) occurred after 500ms",
                &sent(5)
            ),
            "no response from AWS within 0.5 s in any of 5 attempts at ec2.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            set.describe(
                "operation timeout (all attempts including retries) occurred after 7s",
                &sent(3)
            ),
            "no response from AWS within 7 s (the bound on one call, retries included) at ec2.eu-west-1.amazonaws.com (after 3 attempts)"
        );
    }

    #[test]
    fn a_sentence_says_how_many_attempts_only_when_the_sdk_retried() {
        let sent = |attempts| Sent {
            attempts,
            host: String::new(),
        };
        assert_eq!(
            sent(1).after("Throttling: Rate exceeded".into()),
            "Throttling: Rate exceeded"
        );
        assert_eq!(
            sent(5).after("Throttling: Rate exceeded".into()),
            "Throttling: Rate exceeded (after 5 attempts)"
        );
        assert_eq!(sent(0).host(), "the endpoint");
        assert_eq!(
            host_of("https://route53.amazonaws.com/2013-04-01/"),
            "route53.amazonaws.com"
        );
        assert_eq!(host_of("http://127.0.0.1:4566"), "127.0.0.1:4566");
    }

    #[tokio::test]
    async fn the_tls_connector_is_built_for_the_first_https_request_and_kept() {
        let connector = ByScheme::new(HttpConnectorSettings::default(), None);
        let request = |uri: &str| HttpRequest::get(uri).unwrap();
        // Plain HTTP (a local emulator) never builds TLS, so never loads the certificates.
        drop(connector.call(request("http://127.0.0.1:9/")));
        drop(connector.call(request("http://127.0.0.1:9/")));
        assert!(connector.plain.get().is_some());
        assert!(connector.tls.get().is_none());
        drop(connector.call(request("https://127.0.0.1:9/")));
        let built: *const Connector = connector.tls.get().expect("built for https");
        drop(connector.call(request("https://127.0.0.1:9/")));
        assert!(
            std::ptr::eq(built, connector.tls.get().unwrap()),
            "built once"
        );
    }
}

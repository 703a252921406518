//! Test harness: an isolated emulator account per test, the mailinfra binary run against it
//! with a clean environment, an SDK client for arranging and inspecting Route 53, and the
//! emulator's request counts. Needs MAILINFRA_TEST_ENDPOINT (scripts/test sets it); without it
//! every test fails, never skips.
#![allow(dead_code)]

pub mod dns;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use aws_credential_types::Credentials;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

/// The relay gateway blueprint most gateway tests start from: one domain sending through the
/// gateway in eu-west-1, selector `mta1`.
pub const GATEWAY: &str = "blueprint: relay
region: eu-west-1
gateway:
  hostname: mail.example.com
  relay_from: [10.0.0.0/16]
  dkim: { selector: mta1 }
domains:
  - domain: example.com
    send_via: [gateway]
    dmarc: { policy: none }
";

pub fn endpoint() -> String {
    std::env::var("MAILINFRA_TEST_ENDPOINT").expect(
        "MAILINFRA_TEST_ENDPOINT is not set: run the suite with scripts/test, which starts the emulator",
    )
}

/// The mailinfra binary: cargo names it for tests; an example (the benchmark) finds it beside
/// its own folder.
pub fn binary() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_mailinfra") {
        Some(p) => PathBuf::from(p),
        None => {
            let exe = std::env::current_exe().unwrap();
            exe.parent()
                .and_then(|p| p.parent())
                .unwrap()
                .join("mailinfra")
        }
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// One isolated AWS account in the emulator, and a working folder for blueprints.
pub struct Account {
    pub id: String,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
    /// Run commands with the account's root key instead of the CI role (see `ci_role`).
    root: std::cell::Cell<bool>,
    /// Run every command under this CI role (`plan` or `apply`) whatever the command.
    phase: std::cell::Cell<Option<&'static str>>,
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Account {
    pub fn new() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = format!(
            "{:04}{:05}{:03}",
            secs % 10_000,
            std::process::id() % 100_000,
            n % 1000
        );
        Self {
            id,
            endpoint: endpoint(),
            dir: tempfile::tempdir().unwrap(),
            root: std::cell::Cell::new(false),
            phase: std::cell::Cell::new(None),
        }
    }

    /// From now on, run every mailinfra command under the CI role for `phase` (`plan` or
    /// `apply`), whatever the command: to show what a role may not do.
    pub fn under_role(&self, phase: &'static str) {
        self.phase.set(Some(phase));
    }

    /// Temporary credentials of role `name` (path /ci/) holding only `policy` inline: as an
    /// administrator sets up a CI role and the pipeline assumes it. The emulator enforces
    /// IAM for them (emulator/mailinfra_emulator/iam_enforce.py).
    pub fn assume(&self, name: &str, policy: &str) -> Credentials {
        self.session(
            &format!("/_mailinfra/iam/assume?account={}&role={name}", self.id),
            policy,
        )
    }

    /// Temporary credentials of the existing role `name` with its policies and permissions
    /// boundary as they are: what an instance launched with its instance profile gets (the
    /// gateway, acting as itself). The emulator enforces IAM for them.
    pub fn instance_credentials(&self, name: &str) -> Credentials {
        self.session(
            &format!(
                "/_mailinfra/iam/instance-credentials?account={}&role={name}",
                self.id
            ),
            "",
        )
    }

    /// The credentials an emulator test hook at `path_and_query` answers.
    fn session(&self, path_and_query: &str, body: &str) -> Credentials {
        let creds: serde_json::Value =
            serde_json::from_str(&http(&self.endpoint, "POST", path_and_query, body)).unwrap();
        let field = |k: &str| creds[k].as_str().unwrap().to_owned();
        Credentials::new(
            field("AccessKeyId"),
            field("SecretAccessKey"),
            Some(field("SessionToken")),
            None,
            "test-role",
        )
    }

    /// From now on, run mailinfra with the account's root key rather than under the CI role
    /// of `ci_role`: for tests about credentials themselves, or that must act where no
    /// blueprint's policy reaches.
    pub fn as_root(&self) {
        self.root.set(true);
    }

    pub fn access_key(&self) -> String {
        format!("AKIA{}TEST", self.id)
    }

    /// Writes a file into the working folder and returns its path.
    /// A file of the working folder, as text.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `mailinfra ARGS` in the working folder, with only this account's settings in the
    /// environment and no terminal, under the CI role for the command (`ci_role`).
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.program(binary());
        cmd.args(args);
        if let Some(creds) = self.ci_role(args) {
            cmd.env("AWS_ACCESS_KEY_ID", creds.access_key_id())
                .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
                .env(
                    "AWS_SESSION_TOKEN",
                    creds.session_token().unwrap_or_default(),
                );
        }
        cmd
    }

    /// Credentials of the role a CI pipeline would run ARGS under, holding only the policy
    /// `mailinfra policy --for plan|apply` prints for the blueprint: `apply` and `destroy`
    /// under the apply role, every other command that reads AWS under the plan role. The
    /// emulator enforces IAM for such roles (emulator/mailinfra_emulator/iam_enforce.py), so
    /// a permission the printed policy lacks fails the test that needs it. None (the root
    /// key) for commands that need no AWS, blueprints `policy` refuses (the command fails
    /// before AWS too), and after `as_root`.
    fn ci_role(&self, args: &[&str]) -> Option<Credentials> {
        let phase = match args.first().copied()? {
            _ if self.root.get() => return None,
            "apply" | "destroy" | "rotate" | "plan" | "status" | "check" | "bounces"
                if self.phase.get().is_some() =>
            {
                self.phase.get()?
            }
            // `rotate` is an apply: it runs under the apply role.
            "apply" | "destroy" | "rotate" => "apply",
            "plan" | "status" | "check" | "bounces" => "plan",
            _ => return None,
        };
        let blueprint = self.blueprint_of(&args[1..])?;
        // Written as documents (`--out-dir`), so a policy over IAM's limit for one document
        // is tested too: the role holds them all, as it would hold the managed policies.
        let out_dir = tempfile::tempdir().unwrap();
        let out_path = out_dir.path().display().to_string();
        let mut policy_args = vec![
            "policy",
            "--for",
            phase,
            blueprint.as_str(),
            "--out-dir",
            out_path.as_str(),
        ];
        if let Some(i) = args.iter().position(|a| *a == "--region") {
            policy_args.extend(args.get(i..i + 2)?.iter().copied());
        }
        let mut policy = self.program(binary());
        let out = policy.args(&policy_args).output().unwrap();
        if !out.status.success() {
            // A role asked for by `under_role` must exist: running as root instead would let
            // the test pass without the policy it is about.
            assert!(
                self.phase.get().is_none(),
                "mailinfra policy --for {phase} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        let mut files: Vec<_> = std::fs::read_dir(out_dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let docs: Vec<serde_json::Value> = files
            .iter()
            .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
            .collect();
        Some(self.assume(
            &format!("ci-{phase}"),
            &serde_json::Value::Array(docs).to_string(),
        ))
    }

    /// The blueprint a command's arguments name: the first that is a file in the working
    /// folder (a saved plan names its blueprint in `source.path`), else `mailinfra.yaml`.
    fn blueprint_of(&self, args: &[&str]) -> Option<String> {
        let file = args
            .iter()
            .find(|a| !a.starts_with('-') && self.dir.path().join(a).is_file())
            .map_or("mailinfra.yaml", |a| *a);
        let text = std::fs::read_to_string(self.dir.path().join(file)).ok()?;
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(plan) => plan["source"]["path"].as_str().map(str::to_owned),
            Err(_) => Some(file.to_owned()),
        }
    }

    /// Any program in the working folder, with only this account's settings in the
    /// environment and no terminal.
    pub fn program(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("HOME", self.dir.path())
            .env("AWS_ACCESS_KEY_ID", self.access_key())
            .env("AWS_SECRET_ACCESS_KEY", "test-secret")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            // SES allows one request a second; the emulator does not need the wait.
            .env("MAILINFRA_SES_REQUESTS_PER_SECOND", "100")
            // `plan` counts SPF lookups through DNS; tests that prove it pass
            // `--dns-timeout` and `--resolver` (tests/spf_limit.rs), the others use no network.
            .env("MAILINFRA_DNS_TIMEOUT", "0s")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `mailinfra ARGS` and waits for it.
    pub fn mailinfra(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn route53(&self) -> aws_sdk_route53::Client {
        let creds = Credentials::new(self.access_key(), "test-secret", None, None, "test");
        let config = aws_sdk_route53::Config::builder()
            .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
            .region(aws_sdk_route53::config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(creds)
            .build();
        aws_sdk_route53::Client::from_conf(config)
    }

    /// Creates a public hosted zone and returns its bare id.
    pub async fn create_zone(&self, name: &str) -> String {
        let out = self
            .route53()
            .create_hosted_zone()
            .name(name)
            .caller_reference(format!("{name}-{}", self.id))
            .send()
            .await
            .unwrap();
        out.hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_owned()
    }

    /// Sends one change batch as another tool or a person would.
    pub async fn change(
        &self,
        zone_id: &str,
        changes: &[(ChangeAction, &str, &str, i64, &[&str])],
    ) -> Result<(), String> {
        self.change_as(&self.route53(), zone_id, changes).await
    }

    /// `change`, sent with the client `route53` (another principal's credentials).
    pub async fn change_as(
        &self,
        route53: &aws_sdk_route53::Client,
        zone_id: &str,
        changes: &[(ChangeAction, &str, &str, i64, &[&str])],
    ) -> Result<(), String> {
        let changes = changes
            .iter()
            .map(|(action, name, rtype, ttl, values)| {
                let set = ResourceRecordSet::builder()
                    .name(*name)
                    .r#type(RrType::from(*rtype))
                    .ttl(*ttl)
                    .set_resource_records(Some(
                        values
                            .iter()
                            .map(|v| ResourceRecord::builder().value(*v).build().unwrap())
                            .collect(),
                    ))
                    .build()
                    .unwrap();
                Change::builder()
                    .action(action.clone())
                    .resource_record_set(set)
                    .build()
                    .unwrap()
            })
            .collect();
        route53
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(
                ChangeBatch::builder()
                    .set_changes(Some(changes))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                use aws_sdk_route53::error::ProvideErrorMetadata;
                format!(
                    "{}: {}",
                    e.code().unwrap_or("?"),
                    e.message().unwrap_or("?")
                )
            })
    }

    /// Every record set in a zone: (name without dot, type) -> (ttl, values), SOA and NS left out.
    pub async fn records(&self, zone_id: &str) -> BTreeMap<(String, String), (i64, Vec<String>)> {
        let out = self
            .route53()
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .send()
            .await
            .unwrap();
        out.resource_record_sets()
            .iter()
            .filter(|r| !matches!(r.r#type(), RrType::Soa | RrType::Ns))
            .map(|r| {
                (
                    (
                        r.name().trim_end_matches('.').to_owned(),
                        r.r#type().as_str().to_owned(),
                    ),
                    (
                        r.ttl().unwrap_or(0),
                        r.resource_records()
                            .iter()
                            .map(|v| v.value().to_owned())
                            .collect(),
                    ),
                )
            })
            .collect()
    }

    /// The tags on a hosted zone.
    pub async fn zone_tags(&self, zone_id: &str) -> BTreeMap<String, String> {
        let out = self
            .route53()
            .list_tags_for_resource()
            .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
            .resource_id(zone_id)
            .send()
            .await
            .unwrap();
        out.resource_tag_set()
            .map(|s| {
                s.tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or("").to_owned(),
                            t.value().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One request to the emulator's own API (not AWS's); returns the body.
    pub fn emulator(&self, method: &str, path_and_query: &str, body: &str) -> String {
        http(&self.endpoint, method, path_and_query, body)
    }

    /// The requests this account has sent, by `service.Operation`, as the emulator counted them.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        serde_json::from_str(&self.emulator(
            "GET",
            &format!("/_mailinfra/requests?account={}", self.id),
            "",
        ))
        .unwrap()
    }

    /// Sets the emulated SES account's state (emulator/README.md): sandbox, delegation.
    pub fn set_ses_account(&self, region: &str, settings: serde_json::Value) {
        self.emulator(
            "POST",
            &format!(
                "/_mailinfra/ses/account?account={}&region={region}",
                self.id
            ),
            &settings.to_string(),
        );
    }

    /// The BYODKIM private key SES holds for a domain (emulator test hook).
    pub fn ses_private_key(&self, region: &str, domain: &str) -> Option<String> {
        let body = self.emulator(
            "GET",
            &format!(
                "/_mailinfra/ses/identity?account={}&region={region}&domain={domain}",
                self.id
            ),
            "",
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["private_key"].as_str().map(str::to_owned)
    }

    /// Starts `mailinfra ARGS` without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.spawn_with(args, &[])
    }

    /// Starts `mailinfra ARGS` with extra environment variables, without waiting for it.
    pub fn spawn_with(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
        self.command(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Holds the next `times` requests of one operation (`service.Operation`) of this account
    /// in the emulator; later ones are served at once.
    pub fn delay_times(&self, op: &str, seconds: f64, times: u32) {
        self.emulator(
            "POST",
            &format!(
                "/_mailinfra/delay?account={}&op={op}&seconds={seconds}&times={times}",
                self.id
            ),
            "",
        );
    }

    /// Loses the responses of the next `times` requests of one operation: the emulator
    /// carries each out at once and holds only its answer for `seconds`, so a client whose
    /// per-attempt timeout is shorter retries a request that already took effect.
    pub fn lose_responses(&self, op: &str, seconds: f64, times: u32) {
        self.emulator(
            "POST",
            &format!(
                "/_mailinfra/delay?account={}&op={op}&seconds={seconds}&times={times}&mode=response",
                self.id
            ),
            "",
        );
    }

    /// Runs `mailinfra ARGS` with extra environment variables set and some of the usual ones
    /// removed (for example the access keys, to use a profile instead).
    pub fn mailinfra_env(&self, args: &[&str], set: &[(&str, &str)], remove: &[&str]) -> Run {
        let mut cmd = if remove.is_empty() {
            self.command(args)
        } else {
            let mut cmd = self.program(binary());
            cmd.args(args);
            cmd
        };
        cmd.envs(set.iter().copied());
        for name in remove {
            cmd.env_remove(name);
        }
        let out = cmd.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Holds one operation (`service.Operation`) of this account in the emulator.
    pub fn delay(&self, op: &str, seconds: f64) {
        self.emulator(
            "POST",
            &format!(
                "/_mailinfra/delay?account={}&op={op}&seconds={seconds}",
                self.id
            ),
            "",
        );
    }

    /// Makes this account's next `RunInstances` launch an instance that terminates during
    /// launch with the StateReason `code`/`message` (emulator test hook).
    pub fn fail_next_launch(&self, code: &str, message: &str) {
        self.emulator(
            "POST",
            &format!(
                "/_mailinfra/ec2/fail-next-launch?account={}&code={}&message={}",
                self.id,
                query_escape(code),
                query_escape(message)
            ),
            "",
        );
    }

    /// Makes this account's next reverse DNS update (`ModifyAddressAttribute`) end `FAILED`
    /// with `reason` (emulator test hook).
    pub fn fail_next_reverse_dns(&self, reason: &str) {
        self.emulator(
            "POST",
            &format!(
                "/_mailinfra/ec2/fail-next-ptr?account={}&reason={}",
                self.id,
                query_escape(reason)
            ),
            "",
        );
    }

    /// Sets one of the emulator's EC2 test hooks (`/_mailinfra/ec2/<name>?account=ID&<query>`,
    /// emulator/README.md): `hide-new`, `ptr-delay`, `withhold-type`.
    pub fn ec2_hook(&self, name: &str, query: &str) {
        self.emulator(
            "POST",
            &format!("/_mailinfra/ec2/{name}?account={}&{query}", self.id),
            "",
        );
    }

    fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        let creds = Credentials::new(self.access_key(), "test-secret", None, None, "test");
        self.config_with(creds, region)
    }

    /// An SDK configuration signing with `creds` (for example a role's, from `assume`).
    pub fn config_with(&self, creds: Credentials, region: &str) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_owned()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(creds),
            )
            .build()
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk_config(region))
    }

    /// The id of the Debian 12 amd64 image, through Debian's public SSM parameter.
    pub async fn debian_image(&self, region: &str) -> String {
        let p = self
            .ssm(region)
            .get_parameter()
            .name("/aws/service/debian/release/12/latest/amd64")
            .send()
            .await
            .unwrap();
        p.parameter().unwrap().value().unwrap().to_owned()
    }

    pub fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.sdk_config(region))
    }

    pub fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.sdk_config(region))
    }

    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.sdk_config(region))
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk_config("us-east-1"))
    }

    pub fn ses(&self, region: &str) -> aws_sdk_sesv2::Client {
        let creds = Credentials::new(self.access_key(), "test-secret", None, None, "test");
        let config = aws_sdk_sesv2::Config::builder()
            .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
            .region(aws_sdk_sesv2::config::Region::new(region.to_owned()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(creds)
            .build();
        aws_sdk_sesv2::Client::from_conf(config)
    }

    pub fn request_total(&self) -> u64 {
        self.requests().values().sum()
    }
}

/// The TXT value Route 53 stores for a short text.
pub fn q(text: &str) -> String {
    format!("\"{text}\"")
}

/// `text` percent-encoded for a URL query value.
pub fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The fault-injecting proxy (tests/faults/proxy.py) between the binary and the emulator: a
/// test points a run at `url` (`Account::via`) and sets the faults it injects.
pub struct Proxy {
    child: std::process::Child,
    pub url: String,
}

/// One request the proxy saw: its number from 1, `service.Operation`, and the fault injected.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Seen {
    pub n: u64,
    pub op: String,
    pub fault: Option<String>,
}

impl Proxy {
    /// Starts a proxy in front of the emulator, with the tests' Python
    /// (MAILINFRA_TEST_PYTHON, set by scripts/test).
    pub fn start() -> Self {
        use std::io::BufRead;
        let python = std::env::var("MAILINFRA_TEST_PYTHON")
            .expect("MAILINFRA_TEST_PYTHON is not set: run scripts/test");
        let mut child = Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/faults/proxy.py"
            ))
            .arg(endpoint())
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the proxy printed its port");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn control(&self, method: &str, path: &str, body: &str) -> String {
        http(&self.url, method, path, body)
    }

    /// Replaces the rules (tests/faults/proxy.py: RULE) and numbers requests from 1 again.
    pub fn set(&self, rules: serde_json::Value) {
        self.control(
            "POST",
            "/_faults",
            &serde_json::json!({ "rules": rules }).to_string(),
        );
    }

    /// Every request since the rules were last set, in arrival order.
    pub fn log(&self) -> Vec<Seen> {
        serde_json::from_str(&self.control("GET", "/_faults/log", "")).unwrap()
    }

    /// The request a `hold` or `stall` keeps, as (number, operation). An answer that is not
    /// JSON (an empty one, seen once when the machine was loaded) counts as none yet: the
    /// caller polls again.
    pub fn held(&self) -> Option<(u64, String)> {
        let v: serde_json::Value =
            serde_json::from_str(&self.control("GET", "/_faults/held", "")).ok()?;
        Some((v["n"].as_u64()?, v["op"].as_str()?.to_owned()))
    }

    /// Lets the held requests go on.
    pub fn release(&self) {
        self.control("POST", "/_faults/release", "");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.0 request to a local server (the emulator's or the proxy's own API); the body.
pub fn http(url: &str, method: &str, path_and_query: &str, body: &str) -> String {
    let host = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "{method} {path_and_query} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()
}

impl Account {
    /// `mailinfra ARGS` sent through another endpoint (a proxy), with extra environment.
    pub fn via(&self, url: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut set = vec![("AWS_ENDPOINT_URL", url)];
        set.extend_from_slice(env);
        self.mailinfra_env(args, &set, &[])
    }

    /// Starts `mailinfra ARGS` through another endpoint (a proxy), without waiting for it.
    pub fn spawn_via(&self, url: &str, args: &[&str]) -> std::process::Child {
        self.spawn_with(args, &[("AWS_ENDPOINT_URL", url)])
    }
}

/// Starts `args` through a proxy that holds request `k`'s answer, kills the run with SIGKILL
/// once request k reached AWS, and returns request k's operation.
pub fn kill_at(acct: &Account, args: &[&str], k: usize) -> Option<String> {
    let proxy = Proxy::start();
    proxy.set(serde_json::json!([{"fault": "hold", "nth": [k]}]));
    let mut child = acct.spawn_via(&proxy.url, args);
    let start = std::time::Instant::now();
    let op = loop {
        if let Some((_, op)) = proxy.held() {
            child.kill().unwrap(); // SIGKILL
            break Some(op);
        }
        if child.try_wait().unwrap().is_some() {
            break None;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(90),
            "request {k} never came"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let _ = child.wait();
    proxy.release();
    op
}

impl Account {
    /// Moves the recorded dates of the gateway DKIM key `selector` of `blueprint` back by
    /// `secs`, through SSM's own PutParameter (the description of its public half,
    /// docs/rotation.md), as time passing would leave them.
    pub async fn backdate_dkim_key(&self, blueprint: &str, selector: &str, secs: i64) {
        use mailinfra::kinds::gateway::rotation::KeyMeta;
        let name = format!("/mailinfra/{blueprint}/dkim/{selector}/public");
        let ssm = self.ssm("eu-west-1");
        let p = ssm.get_parameter().name(&name).send().await.unwrap();
        let value = p.parameter().unwrap().value().unwrap().to_owned();
        let described = ssm
            .describe_parameters()
            .parameter_filters(
                aws_sdk_ssm::types::ParameterStringFilter::builder()
                    .key("Name")
                    .option("Equals")
                    .values(&name)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let mut meta = KeyMeta::parse(described.parameters()[0].description().unwrap());
        for t in [&mut meta.created, &mut meta.published, &mut meta.since] {
            if let Some(t) = t.as_mut() {
                *t -= secs;
            }
        }
        ssm.put_parameter()
            .name(&name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .description(meta.description())
            .overwrite(true)
            .send()
            .await
            .unwrap();
    }
}

/// A gateway relaying through SES (`relay_via: ses`): one domain, both an SES identity and
/// relayed by the gateway, in eu-west-1.
pub const SES_RELAY: &str = "blueprint: relay\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n  relay_from: [10.0.0.0/16]\n  relay_via: ses\ndomains:\n  - domain: example.com\n    send_via: [ses, gateway]\n    dmarc: { policy: none }\n";

impl Account {
    /// The account's running instances in eu-west-1: (id, launch time in seconds).
    pub async fn running_instances(&self) -> Vec<(String, i64)> {
        let out = self
            .ec2("eu-west-1")
            .describe_instances()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-state-name")
                    .values("running")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                (
                    i.instance_id().unwrap().to_owned(),
                    i.launch_time().unwrap().secs(),
                )
            })
            .collect()
    }

    /// The access key ids of IAM user `user`, sorted.
    pub async fn access_key_ids(&self, user: &str) -> Vec<String> {
        let keys = self
            .iam()
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .unwrap();
        let mut ids: Vec<String> = keys
            .access_key_metadata()
            .iter()
            .filter_map(|k| k.access_key_id().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    /// SHA-256 (hex) of the script in an instance's user data, unpacked, as the gateway's
    /// health report gives it (`mailinfra::kinds::gateway::user_data_hash`).
    pub async fn user_data_sha256(&self, instance: &str) -> String {
        mailinfra::kinds::gateway::user_data_hash(&self.user_data(instance).await)
    }

    /// An instance's user data as DescribeInstanceAttribute gives it, base64 decoded (still
    /// gzipped, as mailinfra sends it).
    async fn user_data(&self, instance: &str) -> Vec<u8> {
        use base64::Engine as _;
        let out = self
            .ec2("eu-west-1")
            .describe_instance_attribute()
            .instance_id(instance)
            .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
            .send()
            .await
            .unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(out.user_data().unwrap().value().unwrap())
            .unwrap()
    }

    /// The boot script an instance was launched with: its user data from
    /// DescribeInstanceAttribute, unpacked (mailinfra gzips it; cloud-init unpacks it).
    pub async fn boot_script(&self, instance: &str) -> String {
        let packed = self.user_data(instance).await;
        assert!(packed.starts_with(&[0x1f, 0x8b]), "user data is gzip");
        let mut script = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&packed[..]), &mut script)
            .unwrap();
        script
    }
}

/// The DKIM key parameter a gateway boot script fetches (`KEY_PARAMETER='…'`).
pub fn key_parameter(script: &str) -> &str {
    script
        .lines()
        .find_map(|l| l.strip_prefix("KEY_PARAMETER='"))
        .expect("a boot script names its key parameter")
        .trim_end_matches('\'')
}

/// Every request a clean run of `args` sends, by operation, through the recording proxy.
pub fn recorded_ops(acct: &Account, args: &[&str]) -> Vec<String> {
    let proxy = Proxy::start();
    proxy.set(serde_json::json!([]));
    let run = acct.via(&proxy.url, args, &[]);
    assert_eq!(run.code, 0, "{args:?}:\n{}", run.stderr);
    proxy.log().into_iter().map(|s| s.op).collect()
}

/// The request numbers (from 1) of the writes among `ops`: a kill sweep's points. A kill at a
/// read leaves what the write before it left, so reads are not swept.
pub fn writes(ops: &[String]) -> Vec<usize> {
    (1..=ops.len())
        .filter(|k| {
            let action = ops[k - 1].rsplit('.').next().unwrap_or_default();
            !["Describe", "Get", "List"]
                .iter()
                .any(|p| action.starts_with(p))
        })
        .collect()
}

/// One apply a kill sweep interrupts: how to prepare a fresh account right before it, the
/// command, and what must hold once the next apply ran after the kill.
#[allow(async_fn_in_trait)]
pub trait Sweep: Copy + std::fmt::Debug + Send {
    /// The command swept.
    fn args(self) -> Vec<&'static str>;
    /// A fresh account in the state right before the command: its zone id (or "").
    async fn before(self, acct: &Account) -> Result<String, String>;
    /// Right after the kill: runs the next apply and checks what it left.
    async fn finished(self, acct: &Account, zone: &str) -> Result<(), String>;
}

/// Kill sweeps: each of `steps` is run once through the recording proxy, then again for every
/// write it makes, killed (SIGKILL) right before that write's answer and followed by
/// `finished` (docs/testing.md). Steps run on threads of their own. Reads are not swept: a
/// kill at a read leaves what the write before it left. Fails with every point that did not
/// finish; `MAILINFRA_FAULT_SWEEP` prints the writes swept.
pub fn kill_sweep<S: Sweep>(steps: &[S]) {
    let problems = std::sync::Mutex::new(Vec::new());
    let points = std::sync::Mutex::new(0);
    std::thread::scope(|s| {
        for &step in steps {
            let (problems, points) = (&problems, &points);
            s.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let ops = rt.block_on(async {
                    let acct = Account::new();
                    step.before(&acct).await.unwrap();
                    recorded_ops(&acct, &step.args())
                });
                let writes = writes(&ops);
                assert!(!writes.is_empty(), "{step:?} writes nothing: {ops:?}");
                if std::env::var_os("MAILINFRA_FAULT_SWEEP").is_some() {
                    let names: Vec<&str> = writes.iter().map(|k| ops[k - 1].as_str()).collect();
                    eprintln!("{step:?}: {} requests, writes swept: {names:?}", ops.len());
                }
                for k in writes {
                    *points.lock().unwrap() += 1;
                    let problem = rt.block_on(async {
                        let acct = Account::new();
                        let zone = step.before(&acct).await?;
                        kill_at(&acct, &step.args(), k);
                        step.finished(&acct, &zone).await
                    });
                    if let Err(p) = problem {
                        problems.lock().unwrap().push(format!(
                            "{step:?} killed at request {k} ({}): {p}",
                            ops[k - 1]
                        ));
                    }
                }
            });
        }
    });
    let problems = problems.into_inner().unwrap();
    assert!(
        problems.is_empty(),
        "{} of {} points did not finish:\n{}",
        problems.len(),
        points.into_inner().unwrap(),
        problems.join("\n")
    );
}

/// The apply after a kill, then a plan that must find nothing to do.
pub fn apply_then_clean(acct: &Account) -> Result<(), String> {
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    if run.code != 0 {
        return Err(format!("the apply after the kill: {}", run.stderr));
    }
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    if plan.code != 0 {
        return Err(format!("plan not clean after it:\n{}", plan.stdout));
    }
    Ok(())
}

/// Runs one of the tests' Python scripts (`tests/<script>`) with the tests' Python
/// (MAILINFRA_TEST_PYTHON, set by scripts/test), `input` on its stdin; its stdout.
pub fn python(script: &str, input: &str) -> Vec<u8> {
    let python = std::env::var("MAILINFRA_TEST_PYTHON").expect(
        "MAILINFRA_TEST_PYTHON is not set: run scripts/test, which installs the tests' Python",
    );
    let mut child = Command::new(python)
        .arg(format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "tests/{script} failed");
    out.stdout
}

impl Account {
    /// An SES identity's key history tag (`mailinfra:dkim`, docs/rotation.md).
    pub async fn ses_key_tag(
        &self,
        region: &str,
        domain: &str,
    ) -> Option<mailinfra::kinds::ses::rotation::KeyTag> {
        use mailinfra::kinds::ses::rotation::{KeyTag, TAG};
        let id = self
            .ses(region)
            .get_email_identity()
            .email_identity(domain)
            .send()
            .await
            .unwrap();
        id.tags()
            .iter()
            .find(|t| t.key() == TAG)
            .and_then(|t| KeyTag::parse(t.value()))
    }

    /// Moves the `since` of an SES identity's key tag back by `secs`, through SES's own
    /// TagResource, as time passing would leave it.
    pub async fn backdate_ses_key(&self, region: &str, domain: &str, secs: i64) {
        let mut tag = self
            .ses_key_tag(region, domain)
            .await
            .expect("the identity has its key tag");
        tag.since = Some(tag.since.expect("a since") - secs);
        self.ses(region)
            .tag_resource()
            .resource_arn(format!(
                "arn:aws:ses:{region}:{}:identity/{domain}",
                self.id
            ))
            .tags(
                aws_sdk_sesv2::types::Tag::builder()
                    .key(mailinfra::kinds::ses::rotation::TAG)
                    .value(tag.text())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
}

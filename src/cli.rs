//! The command line, as clap types only; `lib::run` resolves them into settings.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::output::ColorChoice;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success (with --detailed-exitcode: success and no changes)
  1  error: invalid blueprint, conflict, AWS failure, refused confirmation
  2  changes present (only with --detailed-exitcode)
  130  interrupted by Ctrl-C (apply, destroy: stopped after the step in flight)

Environment: the standard AWS variables (AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_ENDPOINT_URL, ...) work as in the AWS CLI; NO_COLOR turns colour off.";

/// Provision and keep in shape the AWS infrastructure for sending mail that arrives.
///
/// A YAML blueprint describes domains' mail records (SPF, DKIM, DMARC in Route 53), their
/// Amazon SES setup, and a self-hosted relay gateway on EC2; `plan` shows what would change,
/// `apply` makes it so, and a second `apply` finds nothing to do.
#[derive(Debug, Parser)]
#[command(name = "mailinfra", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// AWS profile from the shared config files (default: AWS_PROFILE, then `default`)
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region of a blueprint without `region:` (one that differs from the blueprint's is
    /// refused)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS request to this URL, e.g. a local emulator (default: AWS_ENDPOINT_URL)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// More detail on stderr: what was observed in AWS (-v); and every AWS call with its host,
    /// status, duration and attempts (-vv)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress on stderr (errors still print)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Colour in output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a blueprint offline: each problem with file, line, column and a hint
    #[command(
        after_help = "Example:\n  mailinfra validate blueprints/example.yaml\n\nNo credentials are needed and nothing is sent to AWS."
    )]
    Validate(ValidateArgs),
    /// Read AWS and show what apply would change
    #[command(
        after_help = "Examples:\n  mailinfra plan blueprints/example.yaml\n  mailinfra plan blueprints/example.yaml --json\n  mailinfra plan blueprints/example.yaml --format markdown >> \"$GITHUB_STEP_SUMMARY\"\n  mailinfra plan blueprints/example.yaml --out plan.json   # review, then: mailinfra apply plan.json\n  mailinfra plan blueprints/example.yaml --detailed-exitcode  # 2 when there are changes"
    )]
    Plan(PlanArgs),
    /// Write a blueprint describing the mail records and SES identities that exist
    #[command(
        after_help = "Examples:\n  mailinfra import --zone example.com --out mailinfra.yaml\n  mailinfra import --zone example.com --zone example.org --blueprint acme-mail\n  mailinfra import --zone example.com --region eu-west-1 --out mailinfra.yaml   # and SES\n\nEach record described gets an `adopt:` entry, so `mailinfra plan` right after changes\nonly the ownership records. Records the blueprint cannot describe exactly, and records that are not mail records\nmailinfra manages (a website's A record, an MX), are left out and named on stderr.\n\nWith --region, each SES domain identity there at or under a zone becomes `send_via: [ses]`\nwith its Easy DKIM key length and custom MAIL FROM, adopted (`ses.identity.<domain>`) with\nthe DKIM CNAMEs and MAIL FROM records SES needs. Left out and named: email-address\nidentities, BYODKIM identities (their private key cannot be read), identities with a\ndefault configuration set. Without --region SES is not read (it is regional)."
    )]
    Import(ImportArgs),
    /// Print a plan saved with `plan --out` again, for review
    #[command(
        after_help = "Examples:\n  mailinfra show plan.json\n  mailinfra show plan.json --format markdown >> \"$GITHUB_STEP_SUMMARY\"\n\nOffline: nothing is sent to AWS."
    )]
    Show(ShowArgs),
    /// Make AWS match the blueprint (or carry out a saved plan)
    #[command(
        after_help = "Examples:\n  mailinfra apply blueprints/example.yaml          # asks before changing anything\n  mailinfra apply blueprints/example.yaml --yes    # for pipelines\n  mailinfra apply plan.json --yes                  # a saved plan, only if AWS is unchanged since"
    )]
    Apply(ApplyArgs),
    /// Start a key rotation now, and apply its first stage
    #[command(
        after_help = "Examples:\n  mailinfra rotate gateway-dkim blueprints/example.yaml          # asks first\n  mailinfra rotate gateway-dkim blueprints/example.yaml --yes\n  mailinfra rotate smtp-credentials blueprints/relay-ses.yaml --yes\n  mailinfra rotate ses-dkim blueprints/ses.yaml --domain example.net --yes\n\nses-dkim rotates the BYODKIM keys of the blueprint's SES identities (every one, or those\nnamed with --domain) in one apply: a new key under <selector>-<yyyymmdd>, its TXT published\nbeside the old, SES switched to it once Route 53 has it INSYNC. The old TXT stays\n`retire_after` (default 7d); the first apply after that removes it.\n\nsmtp-credentials (relay_via: ses) is one apply: a second access key, its password stored, the\ninstance replaced to read it, then the old key deleted; never more than two keys.\n\nA gateway DKIM rotation has three stages, each one apply, with no state file (docs/rotation.md):\n  1. publish: a new key under the selector <selector>-<yyyymmdd>, its records beside the old\n  2. switch:  the records' TTL after they are INSYNC, the gateway signs with the new key\n  3. retire:  `retire_after` (default 7d) later, the old records go, then the old key\nThis command is stage 1, asked for now; `apply` does every later stage when it is due, so\na pipeline that applies daily finishes the rotation by itself. `gateway.dkim.rotate_every`\nstarts rotations without this command. The plan shown (and applied) holds whatever else the\nblueprint changes too. While a rotation is under way a second one does not start."
    )]
    Rotate(RotateArgs),
    /// Show what is pending and what a person must do: SES verification, the sandbox
    #[command(
        after_help = "Examples:\n  mailinfra status blueprints/example.yaml\n  mailinfra status blueprints/example.yaml --json"
    )]
    Status(StatusArgs),
    /// List the addresses the gateway's mail bounced from permanently, to drop
    #[command(
        after_help = "Examples:\n  mailinfra bounces blueprints/example.yaml\n  mailinfra bounces blueprints/example.yaml --since 7d\n  mailinfra bounces blueprints/example.yaml --json | jq -r '.bounces[].recipient'\n\nThe gateway records every permanent failure (a 5.x.x status) in the CloudWatch Logs group\n/mailinfra/<blueprint>/gateway/bounces, kept a year and across instance replacements.\nWith `gateway.suppress_hard_bounces: true` it also refuses relay clients' mail to them.\nReads only: the plan role may run it."
    )]
    Bounces(BouncesArgs),
    /// Write what the gateway runs (Postfix settings, OpenDKIM files, boot script, IAM
    /// policies) to a folder, for review without applying
    #[command(
        after_help = "Example:\n  mailinfra render gateway blueprints/example.yaml rendered/\n\nOffline: nothing is sent to AWS; the DKIM private key is never written."
    )]
    Render(RenderArgs),
    /// Print the blueprint's JSON Schema, for editors
    #[command(
        after_help = "Example:\n  mailinfra schema > mailinfra.schema.json\n\nEditors using yaml-language-server pick it up from a first line like:\n  # yaml-language-server: $schema=./mailinfra.schema.json\n(the repository's copy is schema/mailinfra.schema.json)"
    )]
    Schema,
    /// Print the least-privilege IAM policy a CI role needs to plan or apply the blueprint
    #[command(
        after_help = "Examples:\n  mailinfra policy blueprints/example.yaml --for plan       > plan-role.json\n  mailinfra policy blueprints/example.yaml --for apply      > apply-role.json\n  mailinfra policy blueprints/example.yaml --for bootstrap  > bootstrap-role.json\n  mailinfra policy blueprints/example.yaml --for apply-after-bootstrap > ci-apply-role.json\n  mailinfra policy blueprints/example.yaml --for apply --lookup-zones  # zones by id\n  mailinfra policy blueprints/large.yaml --for apply --out-dir apply-policy\n\nOne document of up to 10,240 characters is printed (over 6,144, attach it inline: a managed\npolicy holds 6,144). A larger policy needs --out-dir, which writes managed policies of at most\n6,144 characters each.\n\nThe gateway's role always carries a permissions boundary the apply role may create but never\nchange or remove; only the bootstrap role (an administrator) changes it (docs/ci.md). Where an administrator\napplies once with the bootstrap role, CI's apply role can be `apply-after-bootstrap`: it may pass\nthe gateway's role to EC2 but create or change no IAM resource and no KMS key.\n\nOffline: no credentials are needed and nothing is sent to AWS, unless --lookup-zones reads the\nblueprint's hosted zone ids (ListHostedZones, ListTagsForResources) to limit record changes to them."
    )]
    Policy(PolicyArgs),
    /// Check deliverability as a receiver sees it: SPF, DKIM, DMARC, A/PTR, blocklists, MAIL FROM
    #[command(
        after_help = "Examples:\n  mailinfra check blueprints/example.yaml\n  mailinfra check blueprints/example.yaml --resolver 127.0.0.1:5353 --json\n\nExit 0 when nothing fails (warnings too, unless --strict), 1 when something fails.\nTimeouts and SERVFAIL answers are reported per check as could-not-check."
    )]
    Check(CheckArgs),
    /// Remove every record the blueprint owns (records it does not own are never touched)
    #[command(after_help = "Example:\n  mailinfra destroy blueprints/example.yaml --yes")]
    Destroy(DestroyArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Examples:\n  mailinfra completions bash > ~/.local/share/bash-completion/completions/mailinfra\n  mailinfra completions zsh > \"${fpath[1]}/_mailinfra\"\n  mailinfra completions fish > ~/.config/fish/completions/mailinfra.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write it and one page per command to a folder
    #[command(
        after_help = "Examples:\n  mailinfra man > mailinfra.1\n  mailinfra man --dir /usr/local/share/man/man1   # mailinfra.1, mailinfra-plan.1, ..."
    )]
    Man {
        /// Write mailinfra.1 and mailinfra-COMMAND.1 for every command into this folder
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct FileArg {
    /// The blueprint file
    #[arg(default_value = "mailinfra.yaml", value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Print the plan as JSON (format: docs/plan-format.md); the same as `--format json`
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// How to print the plan: text for terminals, json for tools, markdown for CI job
    /// summaries and pull-request comments
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Also save the plan as JSON to this file, for `mailinfra apply PLAN`
    #[arg(long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// Exit 2 when there are changes, 0 when there are none
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// The DNS server to read other senders' SPF records from, to count the lookups their
    /// includes cost (default: the system's resolver)
    #[arg(long, value_name = "ADDR:PORT", env = "MAILINFRA_RESOLVER")]
    pub resolver: Option<std::net::SocketAddr>,
    /// Longest time for counting SPF lookups through DNS; when it runs out, or DNS cannot be
    /// reached, the plan warns and goes on. 0s skips the count
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, env = "MAILINFRA_DNS_TIMEOUT")]
    pub dns_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// How to report: text for people, json for tools, github for workflow annotations on the
    /// blueprint's lines in a pull request
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidateFormat {
    Text,
    Json,
    Github,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A Route 53 hosted zone to read (repeat for more)
    #[arg(long = "zone", value_name = "ZONE", required = true)]
    pub zones: Vec<String>,
    /// The blueprint's name (default: the first zone's name with dots as hyphens)
    #[arg(long, value_name = "NAME")]
    pub blueprint: Option<String>,
    /// Write the blueprint to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved with `plan --out`
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// How to print it
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A blueprint, or a plan saved with `plan --out`
    #[arg(default_value = "mailinfra.yaml", value_name = "FILE|PLAN")]
    pub file: PathBuf,
    /// Apply without asking (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Apply even when the plan changes or deletes over 30% of what the blueprint owns
    #[arg(long)]
    pub force: bool,
    /// Longest wait for Route 53 changes to reach all name servers
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// After applying, wait until SES has verified every identity (default 10m); exit 1 with
    /// what is still pending when the time runs out
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "10m", require_equals = true, value_parser = parse_duration)]
    pub wait: Option<Duration>,
    /// Wait this long for another apply or destroy of the blueprint to finish (its run lock);
    /// by default fail at once, naming who holds it
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

/// A key mailinfra holds and can rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RotateKey {
    /// The relay gateway's DKIM key (`gateway.dkim`)
    GatewayDkim,
    /// The SES SMTP credentials of a gateway with `relay_via: ses`
    SmtpCredentials,
    /// The BYODKIM keys of SES identities (`ses.dkim.byodkim`)
    SesDkim,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Which key
    #[arg(value_enum)]
    pub key: RotateKey,
    /// The blueprint
    #[arg(default_value = "mailinfra.yaml", value_name = "FILE")]
    pub file: PathBuf,
    /// ses-dkim: only this identity's key (repeatable); default: every BYODKIM identity
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Vec<String>,
    /// Apply without asking (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Longest wait for Route 53 changes to reach all name servers
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Wait this long for another apply or destroy of the blueprint to finish (its run lock)
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RenderTarget {
    /// The relay gateway's configuration
    Gateway,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// What to render
    #[arg(value_enum)]
    pub what: RenderTarget,
    /// The blueprint file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The folder to write the files into (created when missing)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Which role: `plan` reads only (plan, check, status); `apply` reads and writes (apply,
    /// destroy); `bootstrap` is apply's and may also change the gateway's permissions boundary
    /// and KMS key policy; `apply-after-bootstrap` is apply's without IAM writes or KMS key
    /// creation, for CI once an administrator applied with `bootstrap`
    #[arg(long = "for", value_enum, default_value_t = crate::policy::Phase::Apply)]
    pub r#for: crate::policy::Phase,
    /// Look up the blueprint's hosted zones in Route 53 with the current credentials
    /// (ListHostedZones, ListTagsForResources) and limit record changes and zone tagging to
    /// them by id; without it the policy is made offline and names every zone (`hostedzone/*`)
    #[arg(long)]
    pub lookup_zones: bool,
    /// Write each policy document to DIR/policy-1.json, policy-2.json, … instead of printing
    /// (a policy over IAM's 6,144-character limit is several documents)
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// The DNS server to ask (default: the system's resolver)
    #[arg(long, value_name = "ADDR:PORT")]
    pub resolver: Option<std::net::SocketAddr>,
    /// The zones' authoritative server, asked when a row does not pass through the resolver,
    /// to tell a change still propagating from a real problem (default: the servers the
    /// zone's NS records name)
    #[arg(long, value_name = "ADDR:PORT")]
    pub authoritative: Option<std::net::SocketAddr>,
    /// Print the results as JSON (format: docs/check-format.md)
    #[arg(long)]
    pub json: bool,
    /// Fail on warnings and on rows that could not be checked too
    #[arg(long)]
    pub strict: bool,
    /// A blocklist zone to look the sending IP up in; repeat for several (default:
    /// zen.spamhaus.org, bl.spamcop.net, b.barracudacentral.org)
    #[arg(long, value_name = "ZONE")]
    pub dnsbl: Vec<String>,
    /// Longest time for all the checks together
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Longest wait for one DNS answer
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub query_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct BouncesArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Only bounces newer than this (e.g. 24h, 7d); default: all the log holds
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Print the list as JSON: {"format": "mailinfra-bounces", "version": 1, "bounces": [...]}
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Print the status as JSON (format: docs/status-format.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Also release the gateway's Elastic IP (its reverse DNS is reset first). By default it
    /// is kept: a clean IP's reputation takes time to earn, and a later apply reuses it
    #[arg(long)]
    pub release_ip: bool,
    /// Destroy without asking (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Longest wait for Route 53 changes to reach all name servers
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Wait this long for another apply or destroy of the blueprint to finish (its run lock);
    /// by default fail at once, naming who holds it
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

/// `90`, `90s`, `5m`, `1h`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (num, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 90s, 5m, 1h or 7d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{text}`: use the units s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("5 minutes").is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

//! `mailinfra render gateway FILE DIR`: writes the files the gateway's boot script installs,
//! from the same rendering code, for review without applying. Offline.

use std::path::Path;

use super::{Failure, Outcome, desired, load};
use crate::cli::{Global, RenderArgs};
use crate::mail::gateway as render;
use crate::output::Output;

pub fn run(args: &RenderArgs, global: &Global, out: &Output) -> Outcome {
    let bp = load(&args.file)?;
    let d = desired(&bp, global)?;
    let Some(g) = &d.gateway else {
        return Err(Failure::Refused(format!(
            "{} has no `gateway:` to render\n  = hint: add a gateway section (hostname, relay_from)",
            args.file.display()
        )));
    };
    let r = &g.render;
    let main_cf: String = r
        .main_cf()
        .iter()
        .map(|(k, v)| format!("{k} = {v}\n"))
        .collect();
    if let render::Relay::Ses {
        credentials_parameter,
        ..
    } = &r.relay
    {
        return write_files(
            args,
            out,
            &[
                ("main.cf", main_cf),
                ("sender_access", r.sender_access()),
                ("header_checks", r.header_checks()),
                ("fetch-ses-credentials", r.fetch_credentials_script()),
                ("postfix-drop-in.conf", r.postfix_drop_in()),
                ("boot.sh", r.boot_script()),
                (
                    "role-policy.json",
                    render::role_policy_ses(&r.region, &r.blueprint),
                ),
                ("trust-policy.json", render::trust_policy()),
                (
                    "ses-smtp-user-policy.json",
                    crate::kinds::gateway::ses_smtp_user_policy(&bp, r),
                ),
            ],
            &format!(
                "relayed through Amazon SES: no OpenDKIM, SES signs; the SMTP credentials are not among them: the instance reads them from SSM {credentials_parameter} at boot"
            ),
        );
    }
    let files = [
        ("main.cf", main_cf),
        ("sender_access", r.sender_access()),
        ("header_checks", r.header_checks()),
        ("opendkim.conf", r.opendkim_conf()),
        ("KeyTable", r.key_table()),
        ("SigningTable", r.signing_table()),
        ("TrustedHosts", r.trusted_hosts()),
        ("fetch-dkim-key", r.fetch_key_script()),
        ("opendkim-drop-in.conf", r.opendkim_drop_in()),
        ("report-health", r.health_script()),
        (
            "52mailinfra-unattended-upgrades",
            r.unattended_upgrades_conf(),
        ),
        ("20auto-upgrades", r.auto_upgrades_conf()),
        ("mailinfra-health.service", r.health_service()),
        ("mailinfra-health.timer", r.health_timer()),
        ("boot.sh", r.boot_script()),
        ("record-bounces", r.record_bounces_script()),
        ("mailinfra-bounces.service", r.bounce_service()),
        ("mailinfra-bounces.timer", r.bounce_timer()),
        (
            "role-policy.json",
            render::role_policy(&r.region, &r.blueprint),
        ),
        (
            "boundary-policy.json",
            render::boundary_policy(&r.region, &r.blueprint),
        ),
        ("trust-policy.json", render::trust_policy()),
    ];
    write_files(
        args,
        out,
        &files,
        &format!(
            "the DKIM private key is not among them: the instance reads it from SSM {} at boot",
            r.key_parameter
        ),
    )
}

/// Writes `files` into the output folder and says which, with `note` on what is not there.
fn write_files(args: &RenderArgs, out: &Output, files: &[(&str, String)], note: &str) -> Outcome {
    let write = |name: &str, body: &str| {
        let path = Path::new(&args.dir).join(name);
        std::fs::write(&path, body)
            .map_err(|e| Failure::Refused(format!("cannot write `{}`: {e}", path.display())))
    };
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| Failure::Refused(format!("cannot create `{}`: {e}", args.dir.display())))?;
    for (name, body) in files {
        write(name, body)?;
    }
    out.data(&format!(
        "wrote {} files to {}: {}\n(main.cf holds the settings the boot script applies with `postconf -e`; {note})\n",
        files.len(),
        args.dir.display(),
        files.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
    ));
    Ok(0)
}

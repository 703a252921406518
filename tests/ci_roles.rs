//! The CI roles `mailinfra policy` prints, under the emulator's IAM authorization: what they
//! must not be able to do. (That they can do what each command needs is shown by every other
//! integration test, which runs mailinfra under them: tests/common `ci_role`.)

mod common;

use aws_sdk_ssm::error::ProvideErrorMetadata;
use common::{Account, GATEWAY};

const R: &str = "eu-west-1";
const PRIVATE: &str = "/mailinfra/relay/dkim/mta1/private";
const PUBLIC: &str = "/mailinfra/relay/dkim/mta1/public";

#[tokio::test]
async fn neither_ci_role_can_read_the_gateways_private_key() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for phase in ["plan", "apply"] {
        let policy = acct.mailinfra(&["policy", "b.yaml", "--for", phase]);
        assert_eq!(policy.code, 0, "{}", policy.stderr);
        let creds = acct.assume(&format!("check-{phase}"), &policy.stdout);
        let ssm = aws_sdk_ssm::Client::new(&acct.config_with(creds, R));
        let private = ssm
            .get_parameter()
            .name(PRIVATE)
            .with_decryption(true)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            private.code(),
            Some("AccessDeniedException"),
            "{phase}: {private:?}"
        );
        let public = ssm.get_parameter().name(PUBLIC).send().await.unwrap();
        assert!(public.parameter().is_some());
    }
}

#[tokio::test]
async fn apply_under_the_plan_role_is_refused_names_the_policy_and_changes_nothing() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write(
        "b.yaml",
        "blueprint: dns\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    );
    acct.under_role("plan");
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("AccessDenied")
            && run.stderr.contains("the credentials may not call route53:")
            && run.stderr.contains("mailinfra policy FILE --for apply"),
        "{}",
        run.stderr
    );
    let records = acct.records(&zone).await;
    assert!(
        records
            .keys()
            .all(|(name, _)| name != "_dmarc.example.com."),
        "{records:?}"
    );
}

//! A destroy cut short between two IAM steps of the gateway role (killed, or its credentials
//! expiring) leaves the role in one of its in-between states; the next destroy must finish
//! it and everything else. Each state is arranged by hand with the SDK, exactly as the
//! interrupted destroy leaves it, so every step boundary is tested without timing.

mod common;

use common::{Account, GATEWAY};

const R: &str = "eu-west-1";
const ROLE: &str = "mailinfra-relay-gateway";

/// How far the interrupted destroy got with the role.
#[derive(Debug, Clone, Copy)]
enum CutAfter {
    RemoveRoleFromInstanceProfile,
    DeleteInstanceProfile,
    DeleteRolePolicy,
}

async fn interrupted_destroy(acct: &Account, cut: CutAfter) {
    let iam = acct.iam();
    iam.remove_role_from_instance_profile()
        .instance_profile_name(ROLE)
        .role_name(ROLE)
        .send()
        .await
        .unwrap();
    if matches!(cut, CutAfter::RemoveRoleFromInstanceProfile) {
        return;
    }
    iam.delete_instance_profile()
        .instance_profile_name(ROLE)
        .send()
        .await
        .unwrap();
    if matches!(cut, CutAfter::DeleteInstanceProfile) {
        return;
    }
    iam.delete_role_policy()
        .role_name(ROLE)
        .policy_name("read-own-dkim-key")
        .send()
        .await
        .unwrap();
}

async fn role_left(acct: &Account) -> Vec<&'static str> {
    let iam = acct.iam();
    let mut left = Vec::new();
    if iam.get_role().role_name(ROLE).send().await.is_ok() {
        left.push("role");
    }
    if iam
        .get_instance_profile()
        .instance_profile_name(ROLE)
        .send()
        .await
        .is_ok()
    {
        left.push("instance profile");
    }
    left
}

async fn destroy_finishes_after(cut: CutAfter) {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    interrupted_destroy(&acct, cut).await;

    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{cut:?}:\n{}\n{}", run.stdout, run.stderr);
    assert_eq!(role_left(&acct).await, Vec::<&str>::new(), "{cut:?}");
    assert!(
        acct.records(&zone).await.is_empty(),
        "{cut:?}: {:?}",
        acct.records(&zone).await
    );
    assert!(
        acct.ssm(R)
            .get_parameter()
            .name("/mailinfra/relay/dkim/mta1/public")
            .send()
            .await
            .is_err(),
        "{cut:?}: the key is left"
    );
    let again = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert_eq!(again.code, 0, "{cut:?}: {}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("No changes"),
        "{cut:?}: a second destroy finds more: {}",
        again.stdout
    );
}

#[tokio::test]
async fn destroy_cut_after_removing_the_role_from_its_profile_is_finished() {
    destroy_finishes_after(CutAfter::RemoveRoleFromInstanceProfile).await;
}

#[tokio::test]
async fn destroy_cut_after_deleting_the_profile_is_finished() {
    destroy_finishes_after(CutAfter::DeleteInstanceProfile).await;
}

#[tokio::test]
async fn destroy_cut_after_deleting_the_role_policy_is_finished() {
    destroy_finishes_after(CutAfter::DeleteRolePolicy).await;
}

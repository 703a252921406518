//! Ctrl-C during apply or destroy: the step in flight finishes, no new step starts, the run
//! says where it stopped and exits 130. A half-made AWS call is worse than a stopped run: the
//! next run finishes from what exists. A second Ctrl-C stops at once.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::aws::AwsError;
use crate::output::Output;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// From now on, Ctrl-C (SIGINT) asks the run to stop between steps. Call once the run starts
/// changing AWS: before that, Ctrl-C ends the process as usual.
pub fn listen(out: &Output) {
    let out = out.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        REQUESTED.store(true, Ordering::SeqCst);
        out.warn("Ctrl-C: stopping after the step in flight (Ctrl-C again stops at once)");
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
}

/// Between two steps: stop here when asked. `next` names the step that would come.
pub fn check(next: &str) -> Result<(), AwsError> {
    if REQUESTED.load(Ordering::SeqCst) {
        return Err(AwsError::Interrupted { next: next.into() });
    }
    Ok(())
}

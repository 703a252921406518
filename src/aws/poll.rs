//! The one way mailinfra waits for AWS: look, and look again after `every`, until the look
//! says done or `limit` has passed (terraform-provider-aws's `StateChangeConf`, reduced to
//! what this tool needs). Progress goes to stderr whenever what is pending changes, so a
//! person sees the wait move and CI logs stay short.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::output::Output;

/// What one look found.
pub enum Look<T> {
    Done(T),
    /// Not yet: what is still pending, for people (`2 change(s) PENDING`).
    NotYet(String),
}

/// Why a wait ended without its result.
#[derive(Debug)]
pub enum Stopped<E> {
    /// A look failed.
    Failed(E),
    /// `limit` passed; what was still pending at the last look, and the time spent.
    TimedOut { pending: String, spent: Duration },
}

impl<E> From<E> for Stopped<E> {
    fn from(e: E) -> Self {
        Stopped::Failed(e)
    }
}

/// How to wait: `what` names the wait in progress lines ("waiting for {what}").
pub struct Wait<'a> {
    pub what: &'a str,
    pub every: Duration,
    pub limit: Duration,
    pub out: Option<&'a Output>,
}

/// Looks until done, at most `limit` (the first look always happens, even with a limit of
/// zero).
pub async fn until<T, E, F, Fut>(wait: Wait<'_>, look: F) -> Result<T, Stopped<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Look<T>, E>>,
{
    let every = wait.every;
    until_backoff(wait, every, look).await
}

/// Like `until`, but the pause doubles after each look, from `wait.every` up to `max_every`
/// (the exponential backoff AWS advises while a new resource is not visible yet).
pub async fn until_backoff<T, E, F, Fut>(
    wait: Wait<'_>,
    max_every: Duration,
    mut look: F,
) -> Result<T, Stopped<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Look<T>, E>>,
{
    let start = Instant::now();
    let mut last = String::new();
    let mut every = wait.every;
    loop {
        let pending = match look().await? {
            Look::Done(t) => return Ok(t),
            Look::NotYet(pending) => pending,
        };
        let spent = start.elapsed();
        if spent >= wait.limit {
            return Err(Stopped::TimedOut { pending, spent });
        }
        if let Some(out) = wait.out
            && pending != last
        {
            out.progress(&format!(
                "waiting for {} ({} s of at most {} s): {pending}",
                wait.what,
                spent.as_secs(),
                wait.limit.as_secs()
            ));
        }
        last = pending;
        tokio::time::sleep(every.min(wait.limit.saturating_sub(spent))).await;
        every = (every * 2).min(max_every.max(wait.every));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(limit: u64) -> Wait<'static> {
        Wait {
            what: "a test",
            every: Duration::from_secs(1),
            limit: Duration::from_secs(limit),
            out: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn looks_until_done() {
        let mut n = 0;
        let got: Result<u32, Stopped<()>> = until(wait(60), || {
            n += 1;
            let k = n;
            async move {
                Ok(if k == 3 {
                    Look::Done(k)
                } else {
                    Look::NotYet(format!("look {k}"))
                })
            }
        })
        .await;
        assert!(matches!(got, Ok(3)));
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_the_limit_with_what_was_pending() {
        let got: Result<(), Stopped<()>> =
            until(wait(10), || async { Ok(Look::NotYet("still".into())) }).await;
        match got {
            Err(Stopped::TimedOut { pending, spent }) => {
                assert_eq!(pending, "still");
                assert!(spent >= Duration::from_secs(10) && spent < Duration::from_secs(12));
            }
            _ => panic!("expected a timeout"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_the_pause_up_to_its_maximum() {
        let start = Instant::now();
        let mut at = Vec::new();
        let got: Result<(), Stopped<()>> = until_backoff(wait(100), Duration::from_secs(4), || {
            at.push(start.elapsed().as_secs());
            async { Ok(Look::NotYet("still".into())) }
        })
        .await;
        assert!(got.is_err());
        assert_eq!(&at[..6], [0, 1, 3, 7, 11, 15]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_look_ends_the_wait() {
        let got: Result<(), Stopped<&str>> = until(wait(10), || async { Err("boom") }).await;
        assert!(matches!(got, Err(Stopped::Failed("boom"))));
    }
}

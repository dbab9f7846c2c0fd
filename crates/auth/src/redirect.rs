//! Where the provider's answer comes back: the loopback listener, or a private-use URI
//! scheme deep link handed over by the OS (RFC 8252 §7.1).

use url::Url;

use crate::answer::{AnswerRefused, parse_answer, state_matches};
use crate::lock_unpoisoned;
use crate::loopback::Callback;
use crate::session::Session;

/// Why a deep link was not taken as the answer to a sign-in.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectRejected {
    /// The URL is not this app's redirect URI (another scheme or path).
    #[error("the link is not a sign-in answer for this app")]
    NotARedirect,
    /// No sign-in is waiting (it ended, or this process did not start it).
    #[error("a sign-in answer arrived but no sign-in is waiting for one; start the sign-in again")]
    NothingWaiting,
    /// The `state` does not match the sign-in in progress: a forged or stale answer.
    #[error("a sign-in answer that does not belong to the sign-in in progress was refused")]
    WrongState,
    /// The link is far longer than a sign-in answer, or repeats a parameter.
    #[error("a malformed sign-in answer was refused: {0}")]
    Malformed(AnswerRefused),
}

/// Reads a link handed over by the OS (a command-line argument or an "open URL" event): a
/// URL of a scheme other than http, https and file, of at most [`MAX_LINK_LEN`] bytes.
pub fn parse_link(text: &str) -> Option<Url> {
    if text.len() > MAX_LINK_LEN {
        tracing::info!("ignored a link of {} bytes", text.len());
        return None;
    }
    let url = Url::parse(text).ok()?;
    (!matches!(url.scheme(), "http" | "https" | "file")).then_some(url)
}

/// The longest link read: a sign-in answer (at most [`crate::MAX_ANSWER_LEN`]) and the
/// redirect URI around it.
pub const MAX_LINK_LEN: usize = crate::answer::MAX_ANSWER_LEN + 1024;

impl Session {
    /// Says that this front end receives `redirect_uri` (a private-use URI scheme, RFC 8252
    /// §7.1) and hands it to [`Session::deliver_redirect`]; needed for `"redirect": "deep-link"`.
    pub fn accept_deep_links(&self, redirect_uri: Url) {
        let _ = self.inner.deep_link.set(redirect_uri);
    }

    /// Hands a deep link (the provider's answer, opened by the OS) to the waiting sign-in.
    /// Only a link with the `state` of the sign-in in progress is taken; anything else is
    /// refused and the sign-in goes on waiting.
    pub fn deliver_redirect(&self, url: &Url) -> Result<(), RedirectRejected> {
        let expected = self
            .inner
            .deep_link
            .get()
            .ok_or(RedirectRejected::NotARedirect)?;
        if url.scheme() != expected.scheme()
            || url.host() != expected.host()
            || url.path() != expected.path()
        {
            return Err(RedirectRejected::NotARedirect);
        }
        let params =
            parse_answer(url.query().unwrap_or_default()).map_err(RedirectRejected::Malformed)?;
        let mut waiting = lock_unpoisoned(&self.inner.waiting_link);
        let state_ok = match waiting.as_ref() {
            None => return Err(RedirectRejected::NothingWaiting),
            Some(link) => state_matches(&params, &link.state),
        };
        if !state_ok {
            tracing::warn!("refused a sign-in answer with the wrong state");
            return Err(RedirectRejected::WrongState);
        }
        let link = waiting.take().ok_or(RedirectRejected::NothingWaiting)?;
        link.answer
            .send(Callback::without_page(params))
            .map_err(|_| RedirectRejected::NothingWaiting)
    }
}

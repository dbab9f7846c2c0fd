//! The provider's answer to an authorization request, as the browser brings it to the
//! loopback listener or the OS hands it over in a deep link: parsed once, within limits.

use std::collections::HashMap;

/// The longest answer taken (the query string). A real one — `code`, `state`, `iss`, maybe
/// `session_state` or an error description — is well under 2 KB.
pub const MAX_ANSWER_LEN: usize = 8 * 1024;

/// Why an answer was not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerRefused {
    #[error("the answer is {0} bytes long, more than a sign-in answer can be ({MAX_ANSWER_LEN})")]
    /// The answer is longer than [`MAX_ANSWER_LEN`]; the length in bytes.
    TooLong(usize),
    /// RFC 6749 §3.1: a parameter must not be sent more than once.
    #[error("the answer repeats the parameter {parameter:?}")]
    Repeated {
        /// The parameter's name.
        parameter: String,
    },
}

/// The parameters of `query` (form-urlencoded, any bytes), refusing oversize answers and
/// repeated parameters, which would leave it open which `state` or `code` counts.
pub(crate) fn parse_answer(query: &str) -> Result<HashMap<String, String>, AnswerRefused> {
    if query.len() > MAX_ANSWER_LEN {
        return Err(AnswerRefused::TooLong(query.len()));
    }
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(AnswerRefused::Repeated {
                parameter: name.into_owned(),
            });
        }
    }
    Ok(params)
}

/// Whether `params` carry the `state` of the sign-in in progress.
pub(crate) fn state_matches(params: &HashMap<String, String>, expected: &str) -> bool {
    params
        .get("state")
        .is_some_and(|state| same_secret(state, expected))
}

/// Compares without an early exit, so response timing says nothing about the state.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_with_their_encoding_and_bad_ones_are_named() {
        let params =
            parse_answer("code=a%2Bb&state=s%20t&iss=https%3A%2F%2Fid.example%2F").unwrap();
        assert_eq!(params["code"], "a+b");
        assert_eq!(params["state"], "s t");
        assert_eq!(params["iss"], "https://id.example/");
        assert!(state_matches(&params, "s t"));
        assert!(!state_matches(&params, "s u"));
        assert!(!state_matches(&params, "s t "));

        assert_eq!(
            parse_answer("state=s&code=a&state=t"),
            Err(AnswerRefused::Repeated {
                parameter: "state".into()
            })
        );
        let long = format!("code=c&state={}", "x".repeat(MAX_ANSWER_LEN));
        let err = parse_answer(&long).unwrap_err();
        assert!(
            matches!(err, AnswerRefused::TooLong(n) if n == long.len()),
            "{err}"
        );
        // Invalid percent-encoding and UTF-8 are taken as text, not a panic.
        let odd = parse_answer("code=%ff%fe%&state=%E2%82&%=x").unwrap();
        assert_eq!(odd["code"], "\u{fffd}\u{fffd}%");
        assert!(!state_matches(&odd, "s"));
        assert!(parse_answer("").unwrap().is_empty());
    }
}

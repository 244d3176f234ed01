//! The redirect allow-list: Checkout success/cancel and Portal return URLs must be http(s) URLs
//! on a configured origin, so the API can never be used as an open redirect.

use url::{Origin, Url};

use crate::domain::invalid::FieldProblem;

const MAX_URL_LEN: usize = 2048;

/// Checks a URL against the allowed origins; the problem text on failure.
pub fn check(text: &str, allowed: &[Origin]) -> Result<(), String> {
    if text.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    // The text goes to Stripe as given (so its `{CHECKOUT_SESSION_ID}` survives), and Stripe
    // refuses what a URL may not hold: refuse it here, as the caller's mistake it is.
    if let Some(c) = text.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!("must be printable ASCII without spaces (percent-encode {c:?})"));
    }
    let url = Url::parse(text).map_err(|_| "must be an absolute http(s) URL".to_string())?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() || url.password().is_some() {
        return Err("must be an http(s) URL without credentials".into());
    }
    if !allowed.contains(&url.origin()) {
        return Err("is not on an allowed redirect origin".into());
    }
    Ok(())
}

/// The URL to use for `field`: the caller's if given (and allowed), else the configured default.
/// The caller's text is passed on as given: Stripe fills placeholders such as `{CHECKOUT_SESSION_ID}`.
pub fn resolve(field: &str, given: Option<&str>, default: Option<&str>, allowed: &[Origin]) -> Result<String, FieldProblem> {
    match (given, default) {
        (Some(url), _) => check(url, allowed).map(|()| url.to_string()).map_err(|problem| FieldProblem::new(field, problem)),
        (None, Some(url)) => Ok(url.to_string()),
        (None, None) => Err(FieldProblem::new(field, "is required: no default is configured")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<Origin> {
        vec![Url::parse("https://app.example.com").unwrap().origin(), Url::parse("http://localhost:3000").unwrap().origin()]
    }

    #[test]
    fn allowed_origins_pass_and_keep_their_text() {
        let url = "https://app.example.com/billing/done?session={CHECKOUT_SESSION_ID}";
        assert_eq!(resolve("success_url", Some(url), None, &allowed()).unwrap(), url);
        assert!(check("http://localhost:3000/x", &allowed()).is_ok());
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "https://evil.example.com/",
            "https://app.example.com.evil.com/",
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "https://user:pw@app.example.com/",
            "javascript:alert(1)",
            "//app.example.com/x",
            "/relative",
            "http://localhost:3001/",
            "https://app.example.com/\u{7f}",
            "https://app.example.com/a b",
            "https://app.example.com/\n",
            "https://app.example.com/caf\u{e9}",
        ] {
            assert!(check(bad, &allowed()).is_err(), "{bad}");
        }
        assert!(check(&format!("https://app.example.com/{}", "a".repeat(2048)), &allowed()).is_err());
    }

    #[test]
    fn default_applies_only_when_nothing_is_given() {
        assert_eq!(resolve("cancel_url", None, Some("https://app.example.com/"), &allowed()).unwrap(), "https://app.example.com/");
        let problem = resolve("cancel_url", None, None, &allowed()).unwrap_err();
        assert_eq!(problem.field, "cancel_url");
    }
}

//! Bearer-token checks. Tokens are compared in constant time and never logged.

use std::fmt;

use axum::http::HeaderMap;

/// A secret bearer token. `Debug` prints a placeholder so a token cannot leak through a log line.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wrap `token` (surrounding whitespace, e.g. a file's trailing newline, is trimmed). `None` when empty.
    pub fn new(token: impl Into<String>) -> Option<Token> {
        let t = token.into().trim().to_owned();
        (!t.is_empty()).then_some(Token(t))
    }

    /// Whether `presented` equals this token, in time that does not depend on where they differ.
    fn matches(&self, presented: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), presented)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// What a request may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read the table and post heartbeats.
    Client,
    /// Everything, including mutations.
    Admin,
}

/// The tokens a server accepts.
#[derive(Clone, Debug)]
pub(crate) struct Tokens {
    pub(crate) admin: Token,
    pub(crate) client: Option<Token>,
}

impl Tokens {
    /// Whether the request's `Authorization: Bearer` header grants `need`. Reads and heartbeats are open unless a
    /// client token is configured; then the client or the admin token is needed.
    pub(crate) fn allows(&self, headers: &HeaderMap, need: Access) -> bool {
        let presented = bearer(headers);
        match need {
            Access::Admin => presented.is_some_and(|p| self.admin.matches(p)),
            Access::Client => match &self.client {
                None => true,
                Some(client) => {
                    presented.is_some_and(|p| client.matches(p) | self.admin.matches(p))
                }
            },
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.as_bytes();
    let rest = value
        .strip_prefix(b"Bearer ")
        .or_else(|| value.strip_prefix(b"bearer "))?;
    Some(rest.trim_ascii())
}

/// Compare without an early exit: the time depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn admin_needs_the_exact_token() {
        let t = Tokens {
            admin: Token::new("s3cret\n").unwrap(),
            client: None,
        };
        assert!(t.allows(&headers("Bearer s3cret"), Access::Admin));
        assert!(!t.allows(&headers("Bearer s3cre"), Access::Admin));
        assert!(!t.allows(&headers("Bearer s3cret2"), Access::Admin));
        assert!(!t.allows(&headers("Basic s3cret"), Access::Admin));
        assert!(!t.allows(&HeaderMap::new(), Access::Admin));
        assert!(t.allows(&HeaderMap::new(), Access::Client));
        assert!(Token::new("  ").is_none());
        assert_eq!(format!("{:?}", t.admin), "Token(<redacted>)");
    }

    #[test]
    fn client_token_guards_reads_and_admin_token_also_passes() {
        let t = Tokens {
            admin: Token::new("adm").unwrap(),
            client: Token::new("cli"),
        };
        assert!(!t.allows(&HeaderMap::new(), Access::Client));
        assert!(t.allows(&headers("Bearer cli"), Access::Client));
        assert!(t.allows(&headers("Bearer adm"), Access::Client));
        assert!(!t.allows(&headers("Bearer cli"), Access::Admin));
    }
}

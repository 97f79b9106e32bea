//! Secrets out of everything we print or record. Redaction follows what the clients
//! parse, and errs on the side of masking:
//!
//! - user info: everything between `://` and the **last** `@` (the PostgreSQL client
//!   ends it at the first `@` anywhere, so `postgres://u:pa/ss@host` has the password
//!   `pa/ss`; the last `@` covers that and every stricter parser);
//! - secret parameters anywhere: `password=`, `?pass=` (redis+unix), `&token=`,
//!   `api_key=`... in query strings and in key/value connection strings
//!   (`host=h password='a b'`), quoted values and spaces around `=` included (libpq
//!   accepts `password = s3cret`);
//! - and then by the clients' own parsers: where the PostgreSQL client (`postgres`
//!   crate's `Config`, which accepts exactly what it will use), the Redis client or the
//!   memcache client (the `url` crate it re-exports) parses a password out of the string, every occurrence of that password left is
//!   masked too, whatever form the string had;
//! - free text (clap's error line, a client's message): every word that looks like a
//!   URL or a `key=value` pair is redacted the same way.

/// What replaces a secret.
pub const MASK: &str = "***";

/// Whether a parameter name names a secret: password, pass, pwd, token, api_key,
/// secret, auth, sig... (case-insensitive).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "key",
        "auth",
        "sig",
        "credential",
        "session",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// A URL or connection string with every secret replaced by [`MASK`].
pub fn redact_url(url: &str) -> String {
    let (head, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let rest = match rest.rfind('@') {
        Some(at) => format!("{}@{}", mask_userinfo(&rest[..at]), &rest[at + 1..]),
        None => rest.to_string(),
    };
    let mut shown = format!("{head}{}", redact_params(&rest));
    for secret in parsed_passwords(url) {
        shown = shown.replace(&secret, MASK);
    }
    shown
}

/// The passwords the PostgreSQL and Redis clients parse out of `s` (none where they
/// do not accept it).
fn parsed_passwords(s: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(config) = s.parse::<postgres::Config>() {
        if let Some(p) = config.get_password() {
            found.push(String::from_utf8_lossy(p).into_owned());
        }
    }
    if s.contains("://") {
        if let Ok(info) = redis::IntoConnectionInfo::into_connection_info(s) {
            if let Some(p) = info.redis_settings().password() {
                found.push(p.to_string());
            }
        }
    }
    // The memcache client authenticates with the URL's password as the `url` crate
    // gives it (still percent-encoded); its decoded form is masked too.
    if s.starts_with("memcache") {
        if let Some(p) = memcache::Url::parse(s)
            .ok()
            .as_ref()
            .and_then(|u| u.password())
        {
            found.push(percent_decoded(p));
            found.push(p.to_string());
        }
    }
    found.retain(|p| !p.is_empty());
    found
}

/// `%XX` escapes decoded (bytes that are not UTF-8 kept as the replacement character).
fn percent_decoded(s: &str) -> String {
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let hex = tail
            .get(..2)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                bytes.push(v);
                rest = &tail[2..];
            }
            _ => {
                bytes.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `user:***` for `user:password`, `***` where the user part could itself be a
/// secret (no colon: a token) or is not a plain name.
fn mask_userinfo(userinfo: &str) -> String {
    match userinfo.split_once(':') {
        Some((user, _)) if !user.contains(['/', '?', '#', '&', '=']) => format!("{user}:{MASK}"),
        _ if userinfo.is_empty() => String::new(),
        _ => MASK.to_string(),
    }
}

/// Masks the value of every secret `key=value` parameter: in a query string (after
/// `?`, `&`, `;` or `#`) or a key/value string (after whitespace). A value ends at
/// whitespace, `&`, `;` or `#`; a value in single quotes ends at the closing quote
/// (backslash escapes honoured, as libpq does).
pub fn redact_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let (before, after) = (&rest[..eq], &rest[eq + 1..]);
        // The key may be followed, and the value preceded, by spaces (libpq).
        let key_part = before.trim_end();
        let key_start = key_part
            .rfind(|c: char| c.is_whitespace() || "?&;#'\"".contains(c))
            .map_or(0, |i| {
                i + key_part[i..].chars().next().map_or(1, char::len_utf8)
            });
        let key = &key_part[key_start..];
        out.push_str(before);
        out.push('=');
        let value = after.trim_start();
        out.push_str(&after[..after.len() - value.len()]);
        // Already masked (text redacted twice): keep what follows the mask.
        let value_len = if value.starts_with(MASK) {
            MASK.len()
        } else {
            value_len(value)
        };
        if is_secret_key(key) && value_len > 0 {
            out.push_str(MASK);
        } else {
            out.push_str(&value[..value_len]);
        }
        rest = &value[value_len..];
    }
    out.push_str(rest);
    out
}

/// The length of the value at the start of `s` (see [`redact_params`]).
fn value_len(s: &str) -> usize {
    let end = |s: &str| {
        s.find(|c: char| c.is_whitespace() || "&;#".contains(c))
            .unwrap_or(s.len())
    };
    let Some(quoted) = s.strip_prefix('\'') else {
        return end(s);
    };
    let mut escaped = false;
    for (i, c) in quoted.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '\'' if !escaped => return i + 2,
            _ => escaped = false,
        }
    }
    s.len()
}

/// Free text (an error line, clap's echo of a bad value) with every URL, user info and
/// secret parameter in it redacted.
pub fn redact_text(text: &str) -> String {
    let text = redact_params(text);
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            let trimmed = word.trim_end();
            let space = &word[trimmed.len()..];
            let core = trimmed.trim_matches(|c: char| "'\"`()<>[],".contains(c));
            if core.contains("://") || core.contains('@') {
                let start = trimmed.find(core).unwrap_or(0);
                format!(
                    "{}{}{}{space}",
                    &trimmed[..start],
                    redact_url(core),
                    &trimmed[start + core.len()..]
                )
            } else {
                word.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_hidden(input: &str, secret: &str, want: &str) {
        let got = redact_url(input);
        assert!(!got.contains(secret), "{input} -> {got}");
        assert_eq!(got, want, "{input}");
        let text = redact_text(&format!("invalid value '{input}' for '--url <URL>'"));
        assert!(!text.contains(secret), "{text}");
    }

    #[test]
    fn user_info_is_masked_up_to_the_last_at() {
        assert_hidden(
            "redis://:hunter2@127.0.0.1:6379/0",
            "hunter2",
            "redis://:***@127.0.0.1:6379/0",
        );
        assert_hidden(
            "postgres://bob:s3cr%40t@localhost/db?sslmode=disable",
            "s3cr",
            "postgres://bob:***@localhost/db?sslmode=disable",
        );
        assert_hidden(
            "postgres://u:pa/ss@host/db",
            "pa/ss",
            "postgres://u:***@host/db",
        );
        assert_hidden("p://u:a@b@host/x", "a@b", "p://u:***@host/x");
        assert_hidden("redis://token42@host", "token42", "redis://***@host");
        assert_hidden("postgres://u:p?w#d@h/db", "p?w#d", "postgres://u:***@h/db");
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        for url in [
            "redis://127.0.0.1:6379",
            "postgres://bob@localhost/db?sslmode=disable",
            "http://example.com/api?q=1&page=2",
            "redis+unix:///tmp/redis.sock?db=2",
        ] {
            assert_eq!(redact_url(url), url.replace("bob@", "***@"));
        }
    }

    #[test]
    fn secret_parameters_are_masked() {
        assert_hidden(
            "postgres://h/db?user=u&password=hunter2&sslmode=disable",
            "hunter2",
            "postgres://h/db?user=u&password=***&sslmode=disable",
        );
        assert_hidden(
            "redis+unix:///tmp/r.sock?db=0&pass=hunter2",
            "hunter2",
            "redis+unix:///tmp/r.sock?db=0&pass=***",
        );
        assert_hidden(
            "http://api.example.com/v1?api_key=abc123&q=x#access_token=zz9",
            "abc123",
            "http://api.example.com/v1?api_key=***&q=x#access_token=***",
        );
        assert!(!redact_url("http://h/?TOKEN=zz9").contains("zz9"));
    }

    #[test]
    fn key_value_strings_are_masked_quotes_included() {
        assert_hidden(
            "host=localhost user=bob password=hunter2 dbname=x",
            "hunter2",
            "host=localhost user=bob password=*** dbname=x",
        );
        assert_hidden(
            "host=h password='a b\\' c' dbname=x",
            "b\\' c",
            "host=h password=*** dbname=x",
        );
        // libpq accepts spaces around `=`: the value is a password all the same.
        assert_hidden(
            "host=127.0.0.1 port=5 user=postgres password = s3cret",
            "s3cret",
            "host=127.0.0.1 port=5 user=postgres password = ***",
        );
        assert_hidden(
            "host=h password= 'a b' dbname=x",
            "a b",
            "host=h password= *** dbname=x",
        );
    }

    /// A random password of 12 to 24 characters, some needing quoting or escaping in
    /// some forms (space, quote, backslash, `@`, `/`, `%`).
    fn password() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex("[A-Za-z0-9][A-Za-z0-9 '\\\\@/%:?#&=!*]{11,23}").unwrap()
    }

    /// `s` percent-encoded for a URL's user info or query (every byte but [A-Za-z0-9]).
    fn pct(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// `s` as a libpq single-quoted value.
    fn quoted(s: &str) -> String {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }

    proptest::proptest! {
        #[test]
        fn a_password_in_any_accepted_form_never_shows(pw in password(), gap in 0usize..3) {
            let sp = " ".repeat(gap);
            let pg = [
                format!("postgres://u:{}@127.0.0.1:5432/db", pct(&pw)),
                format!("postgresql://u:{}@h/db?sslmode=disable", pct(&pw)),
                format!("postgres://u@h/db?password={}", pct(&pw)),
                format!("host=127.0.0.1 port=5 user=postgres password{sp}={sp}{} dbname=x", quoted(&pw)),
                format!("password{sp}={sp}{} host=h", quoted(&pw)),
            ];
            for s in &pg {
                let parsed = s.parse::<postgres::Config>().unwrap();
                proptest::prop_assert_eq!(parsed.get_password(), Some(pw.as_bytes()), "{}", s);
            }
            let redis = [
                format!("redis://:{}@127.0.0.1:6379/0", pct(&pw)),
                format!("redis://user:{}@h:1/", pct(&pw)),
                format!("redis+unix:///tmp/r.sock?pass={}", pct(&pw)),
            ];
            for s in &redis {
                let info = redis::IntoConnectionInfo::into_connection_info(s.as_str()).unwrap();
                proptest::prop_assert_eq!(info.redis_settings().password(), Some(pw.as_str()), "{}", s);
            }
            let memcached = [
                format!("memcache://u:{}@127.0.0.1:11211", pct(&pw)),
                format!("memcache://u:{}@127.0.0.1:11211?protocol=ascii", pct(&pw)),
            ];
            for s in &memcached {
                let url = memcache::Url::parse(s).unwrap();
                proptest::prop_assert_eq!(url.password().map(percent_decoded), Some(pw.clone()), "{}", s);
            }
            for s in pg.iter().chain(&redis).chain(&memcached) {
                let shown = [
                    redact_url(s),
                    redact_text(&format!("cannot use {s}: refused")),
                    redact_text(&format!("invalid value '{s}' for '--url <URL>'")),
                ];
                for t in shown {
                    proptest::prop_assert!(!t.contains(&pw) && !t.contains(&pct(&pw)), "{} -> {}", s, t);
                }
            }
        }
    }

    #[test]
    fn unparsable_urls_are_masked_too() {
        assert_hidden(
            "postgres://u:hunter2@host:notaport/db",
            "hunter2",
            "postgres://u:***@host:notaport/db",
        );
        assert_hidden(":hunter2@host:6379", "hunter2", ":***@host:6379");
        assert_hidden("u:hunter2@", "hunter2", "u:***@");
    }

    #[test]
    fn free_text_is_redacted_word_by_word() {
        let line = "unexpected argument 'redis://:pw42@h:1/' found; also (password=pw43)";
        let got = redact_text(line);
        assert!(!got.contains("pw42") && !got.contains("pw43"), "{got}");
        assert!(got.starts_with("unexpected argument 'redis://:***@h:1/' found"));
        assert_eq!(redact_text("no secret here"), "no secret here");
        let twice = redact_text(&format!("at {}: refused", redact_url("h?pass=x")));
        assert_eq!(twice, "at h?pass=***: refused");
    }
}

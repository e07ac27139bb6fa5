//! Taking Herald's own parameters out of a connection URL's query, leaving the rest byte for byte
//! (re-encoding it could change what the driver reads: `+` is not a space to libpq).

/// `url` without the query parameters named in `names`, and those parameters' values
/// (percent-decoded), in the order they came.
pub fn take(url: &str, names: &[&str]) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), Vec::new());
    };
    let decode = |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key);
        if names.contains(&key.as_str()) {
            taken.push((key, decode(value)));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    (rest, taken)
}

/// The last value given for `name` (a repeated parameter's last value wins, as in libpq).
pub fn last<'a>(taken: &'a [(String, String)], name: &str) -> Option<&'a str> {
    taken.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_parameters_are_taken_and_the_rest_kept_as_written() {
        let (rest, taken) =
            take("postgres://u@h/db?options=-c%20a%3D1&sslrootcert=%2Ftmp%2Fca.pem&x=a+b", &["sslrootcert"]);
        assert_eq!(rest, "postgres://u@h/db?options=-c%20a%3D1&x=a+b");
        assert_eq!(taken, vec![("sslrootcert".to_owned(), "/tmp/ca.pem".to_owned())]);
        let (rest, taken) = take("postgres://u@h/db?sslmode=require", &["sslmode"]);
        assert_eq!((rest.as_str(), last(&taken, "sslmode")), ("postgres://u@h/db", Some("require")));
        assert_eq!(take("mysql://h/db", &["ssl-mode"]), ("mysql://h/db".to_owned(), Vec::new()));
    }
}

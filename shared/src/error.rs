//! How errors are shown: an error's own message followed by each of its sources, the way an
//! operator reads them in a log line (`what failed: why: why that`).

use std::error::Error;

/// `error` and its chain of sources, joined by `": "`. A source whose message the text already
/// ends with is not repeated (many errors quote their source in their own message).
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn every_source_follows_the_message() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(super::chain(&e), "outer: inner");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn a_source_already_quoted_is_not_repeated() {
        let e = Quoting(std::io::Error::other("inner"));
        assert_eq!(super::chain(&e), "outer: inner");
    }
}

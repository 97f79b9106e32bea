//! The host's fixed facts in words (`ladder host`, the report's host line, "pinned to").

use crate::record::host::{HostNote, NoAffinity, NoHugePages};
use std::fmt;

impl fmt::Display for NoAffinity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoAffinity::MacosQos => {
                "not pinned: macOS has no thread affinity (QoS user-interactive)"
            }
            NoAffinity::Unsupported => {
                "not pinned: thread affinity is unsupported on this platform"
            }
        })
    }
}

impl fmt::Display for NoHugePages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoHugePages::ThpUnavailable => "THP unavailable",
            NoHugePages::SuperpagesNotRequested => "superpages not requested",
            NoHugePages::Unsupported => "huge pages unsupported on this platform",
        })
    }
}

impl<T: fmt::Display> fmt::Display for HostNote<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostNote::Fact(fact) => fact.fmt(f),
            HostNote::Text(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fact_is_stored_as_a_name_and_an_old_sentence_loads_as_written() {
        let fact = HostNote::Fact(NoAffinity::MacosQos);
        let text = serde_json::to_string(&fact).unwrap();
        assert_eq!(text, "\"macos_qos\"");
        assert_eq!(
            serde_json::from_str::<HostNote<NoAffinity>>(&text).unwrap(),
            fact
        );
        let old = "not pinned: macOS has no thread affinity (QoS user-interactive)";
        let loaded: HostNote<NoAffinity> =
            serde_json::from_str(&serde_json::to_string(old).unwrap()).unwrap();
        assert_eq!(loaded, HostNote::Text(old.into()));
        // The fact is worded as the old records said it.
        assert_eq!(fact.to_string(), old);
        let thp: HostNote<NoHugePages> = serde_json::from_str("\"thp_unavailable\"").unwrap();
        assert_eq!(thp.to_string(), "THP unavailable");
    }
}

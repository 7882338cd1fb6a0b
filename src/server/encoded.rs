//! The phase table as the long-poll answers it: encoded to JSON once per published table, not once per answer.
//!
//! A move wakes every parked long-poll at once, and each answers the same table: 10,000 clients are 10,000
//! encodings of one document (a table of 1,000 topics is ~100 KB of JSON). The encoding of the last table answered
//! is kept with the table it came from, and answers share its bytes. The bytes end with a newline, so the watch
//! stream (`?watch=1`, one table per line) writes the same bytes as one line.

use std::sync::Arc;

use axum::body::Bytes;
use parking_lot::Mutex;

use crate::control::wire::PhasesDoc;

/// The JSON of the last published table answered.
#[derive(Debug, Default)]
pub(crate) struct EncodedTable {
    // The table (kept alive, so its address identifies it) and its encoding.
    last: Mutex<Option<(Arc<PhasesDoc>, Bytes)>>,
}

impl EncodedTable {
    /// The JSON of `doc`: the kept bytes when `doc` is the table they were encoded from, else encoded now (under the
    /// lock, so a fleet woken at once encodes a new table once) and kept.
    pub(crate) fn json(&self, doc: &Arc<PhasesDoc>) -> Bytes {
        let line = self.line(doc);
        line.slice(..line.len() - 1)
    }

    /// The JSON of `doc` followed by a newline: one line of the watch stream. Compact JSON has no raw newline (a
    /// newline in a string is written `\n`), so the line is the whole document.
    pub(crate) fn line(&self, doc: &Arc<PhasesDoc>) -> Bytes {
        let mut last = self.last.lock();
        if let Some((d, bytes)) = last.as_ref() {
            if Arc::ptr_eq(d, doc) {
                return bytes.clone();
            }
        }
        let mut json = serde_json::to_vec(&**doc).expect("a phase table encodes to JSON");
        json.push(b'\n');
        let bytes = Bytes::from(json);
        *last = Some((doc.clone(), bytes.clone()));
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phase::Phase;
    use crate::topic_state::TopicState;

    fn doc(version: u64, phase: Phase) -> Arc<PhasesDoc> {
        let mut d = PhasesDoc {
            version,
            ..PhasesDoc::default()
        };
        d.topics.insert(
            "Orders".into(),
            TopicState {
                phase,
                ..TopicState::default()
            },
        );
        Arc::new(d)
    }

    #[test]
    fn one_table_is_encoded_once_and_a_new_one_replaces_it() {
        let e = EncodedTable::default();
        let a = doc(1, Phase::DualRead);
        let first = e.json(&a);
        assert_eq!(first, serde_json::to_vec(&*a).expect("json"));
        let again = e.json(&a);
        assert_eq!(again.as_ptr(), first.as_ptr(), "the same bytes are shared");
        let b = doc(2, Phase::DualReadWrite);
        let next = e.json(&b);
        assert_eq!(next, serde_json::to_vec(&*b).expect("json"));
        assert_ne!(next, first);
        // An equal document in another allocation is encoded again, never answered from the wrong table.
        let b2 = doc(2, Phase::DualReadWrite);
        assert_eq!(e.json(&b2), next);
    }

    #[test]
    fn a_line_is_the_same_json_and_one_newline_shared_with_the_answer() {
        let e = EncodedTable::default();
        let mut a = doc(3, Phase::DualRead);
        // A topic name with a newline in it must not split the line.
        Arc::get_mut(&mut a)
            .expect("sole owner")
            .topics
            .insert("odd\nname".into(), TopicState::default());
        let line = e.line(&a);
        let json = e.json(&a);
        assert_eq!(&line[..line.len() - 1], &json[..]);
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        assert_eq!(json.as_ptr(), line.as_ptr(), "both come from one encoding");
        let back: PhasesDoc = serde_json::from_slice(&line[..line.len() - 1]).expect("parses");
        assert_eq!(back.topics.len(), 2);
    }
}

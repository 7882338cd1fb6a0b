//! The topics of a phase table: sorted for listing and the wire, hashed for the per-send lookup.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::topic_state::TopicState;

/// Topic name → state, kept twice: a `BTreeMap` that orders listings and the JSON form, and a hash index that
/// answers [`TopicMap::get`] (the lookup every send makes) without comparing the name against a tree of others.
/// A table is rebuilt on every change and read many times between changes, so the copy is paid at the swap.
#[derive(Clone, Debug, Default)]
pub(crate) struct TopicMap {
    sorted: BTreeMap<String, TopicState>,
    index: HashMap<Box<str>, TopicState, foldhash::fast::RandomState>,
}

impl TopicMap {
    /// The state of `topic`, if it is in the map.
    pub(crate) fn get(&self, topic: &str) -> Option<&TopicState> {
        self.index.get(topic)
    }

    /// Insert or replace `topic`'s state.
    pub(crate) fn insert(&mut self, topic: &str, state: TopicState) {
        self.sorted.insert(topic.to_owned(), state);
        self.index.insert(topic.into(), state);
    }

    /// Every topic, sorted by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &TopicState)> {
        self.sorted.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Every state, in topic-name order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &TopicState> {
        self.sorted.values()
    }
}

impl From<BTreeMap<String, TopicState>> for TopicMap {
    fn from(sorted: BTreeMap<String, TopicState>) -> Self {
        let index = sorted
            .iter()
            .map(|(k, v)| (Box::from(k.as_str()), *v))
            .collect();
        TopicMap { sorted, index }
    }
}

impl PartialEq for TopicMap {
    fn eq(&self, other: &Self) -> bool {
        self.sorted == other.sorted
    }
}

impl Serialize for TopicMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.sorted.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TopicMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::<String, TopicState>::deserialize(deserializer).map(TopicMap::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phase::Phase;

    #[test]
    fn index_and_order_agree_through_inserts_and_serde() {
        let mut m = TopicMap::default();
        let s = |phase, version| TopicState {
            phase,
            version,
            ..Default::default()
        };
        m.insert("b", s(Phase::DualRead, 1));
        m.insert("a", s(Phase::Completed, 2));
        m.insert("b", s(Phase::DualReadWrite, 3));
        assert_eq!(m.get("b").map(|s| s.phase), Some(Phase::DualReadWrite));
        assert_eq!(m.get("c"), None);
        let names: Vec<_> = m.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["a", "b"]);
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.starts_with("{\"a\":"), "{json}");
        let back: TopicMap = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.get("a").map(|s| s.version), Some(2));
    }
}

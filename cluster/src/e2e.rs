//! E2E processing latency across nodes, as Go's `quantile.E2eProcessingLatencyAggregate`
//! (v1.3.0): each node's `{"count","percentiles":[{"quantile","value"}]}` becomes
//! percentile maps with `min = max = average = value` and `count`; merging keeps per
//! quantile a count-weighted running average, `max` = the larger, and (Go's quirk) `min`
//! = the merged node's max. The maps serialize with sorted keys and whole floats written
//! as integers, as Go's encoding/json writes a `map[string]float64`.

use protocol::json::nsqd::E2e;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// An f64 written as Go writes a float64 (`5`, not `5.0`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GoF64(pub f64);

impl Serialize for GoF64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        if f.fract() == 0.0 && f.abs() < 1e15 {
            s.serialize_i64(f as i64)
        } else {
            s.serialize_f64(f)
        }
    }
}

impl<'de> Deserialize<'de> for GoF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<GoF64, D::Error> {
        f64::deserialize(d).map(GoF64)
    }
}

/// One percentile: `average`, `count`, `max`, `min`, `quantile` (and `value` on a node's).
pub type PercentileMap = BTreeMap<String, GoF64>;

/// A topic's or channel's latency, per node or merged.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct E2eAggregate {
    pub count: i64,
    pub percentiles: Option<Vec<PercentileMap>>,
    pub topic: String,
    pub channel: String,
    pub host: String,
}

fn get(m: &PercentileMap, k: &str) -> f64 {
    m.get(k).map(|v| v.0).unwrap_or(0.0)
}

fn set(m: &mut PercentileMap, k: &str, v: f64) {
    m.insert(k.to_string(), GoF64(v));
}

impl E2eAggregate {
    /// A node's latency as Go's `UnmarshalJSON` reads it.
    pub fn from_node(e: &E2e) -> E2eAggregate {
        let count = i64::try_from(e.count).unwrap_or(i64::MAX);
        let percentiles = e.percentiles.as_ref().map(|ps| {
            ps.iter()
                .map(|p| {
                    let mut m = PercentileMap::new();
                    set(&mut m, "quantile", p.quantile);
                    set(&mut m, "value", p.value);
                    set(&mut m, "min", p.value);
                    set(&mut m, "max", p.value);
                    set(&mut m, "average", p.value);
                    set(&mut m, "count", count as f64);
                    m
                })
                .collect()
        });
        E2eAggregate {
            count,
            percentiles,
            ..E2eAggregate::default()
        }
    }

    /// An empty aggregate for `host`/`topic`/`channel`.
    pub fn new(host: &str, topic: &str, channel: &str) -> E2eAggregate {
        E2eAggregate {
            host: host.to_string(),
            topic: topic.to_string(),
            channel: channel.to_string(),
            ..E2eAggregate::default()
        }
    }

    /// Go's `Add`, step for step.
    pub fn add(&mut self, other: &E2eAggregate) {
        self.host = "*".to_string();
        self.count += other.count;
        let Some(theirs) = &other.percentiles else {
            return;
        };
        for value in theirs {
            let ps = self.percentiles.get_or_insert_with(Vec::new);
            let q = get(value, "quantile");
            let i = match ps.iter().position(|p| get(p, "quantile") == q) {
                Some(i) => i,
                None => {
                    let mut m = PercentileMap::new();
                    set(&mut m, "quantile", q);
                    ps.push(m);
                    ps.len() - 1
                }
            };
            let p = &mut ps[i];
            let max = get(value, "max").max(get(p, "max"));
            set(p, "max", max);
            let min = get(value, "max").min(get(p, "max"));
            set(p, "min", min);
            let count = get(p, "count") + get(value, "count");
            set(p, "count", count);
            if count == 0.0 {
                set(p, "average", 0.0);
                continue;
            }
            let delta = get(value, "average") - get(p, "average");
            let r = delta * get(value, "count") / count;
            let average = get(p, "average") + r;
            set(p, "average", average);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::json::nsqd::Percentile;

    fn node(count: u64, values: &[(f64, f64)]) -> E2eAggregate {
        E2eAggregate::from_node(&E2e {
            count,
            percentiles: Some(
                values
                    .iter()
                    .map(|&(quantile, value)| Percentile { quantile, value })
                    .collect(),
            ),
        })
    }

    #[test]
    fn merges_like_go() {
        let mut agg = E2eAggregate::new("*", "t", "");
        agg.add(&node(1, &[(0.99, 100.0)]));
        agg.add(&node(3, &[(0.99, 20.0), (0.5, 10.0)]));
        assert_eq!(agg.count, 4);
        let ps = agg.percentiles.as_ref().expect("merged");
        assert_eq!(get(&ps[0], "max"), 100.0);
        // Go's quirk: min is the last merged node's max.
        assert_eq!(get(&ps[0], "min"), 20.0);
        assert_eq!(get(&ps[0], "count"), 4.0);
        assert_eq!(get(&ps[0], "average"), 40.0);
        assert_eq!(get(&ps[1], "quantile"), 0.5);
        let json = serde_json::to_string(&agg).expect("json");
        assert_eq!(
            json,
            r#"{"count":4,"percentiles":[{"average":40,"count":4,"max":100,"min":20,"quantile":0.99},{"average":10,"count":3,"max":10,"min":10,"quantile":0.5}],"topic":"t","channel":"","host":"*"}"#
        );
        let back: E2eAggregate = serde_json::from_str(&json).expect("reads");
        assert_eq!(back, agg);
    }

    #[test]
    fn no_percentiles_stay_null() {
        let mut agg = E2eAggregate::new("*", "t", "c");
        agg.add(&E2eAggregate::from_node(&E2e::default()));
        assert_eq!(
            serde_json::to_string(&agg).expect("json"),
            r#"{"count":0,"percentiles":null,"topic":"t","channel":"c","host":"*"}"#
        );
    }
}

//! What each plan allows a tenant: requests per minute and per day, agents, and concurrent
//! tasks (requests in flight through the gateway). The numbers are configuration; these are
//! the defaults.

use serde::{Deserialize, Serialize};

use crate::tenant::Plan;

/// One plan's limits. `None` is unlimited, written `"unlimited"` in configuration (TOML has
/// no null, and leaving a field out keeps its default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLimits {
    pub requests_per_minute: u64,
    #[serde(with = "unlimited")]
    pub requests_per_day: Option<u64>,
    #[serde(with = "unlimited")]
    pub max_agents: Option<u64>,
    pub concurrent_tasks: u64,
}

/// A limit that is a number or the word `unlimited`.
mod unlimited {
    use serde::{Deserialize, Deserializer, Serializer, de};

    const WORD: &str = "unlimited";

    pub fn serialize<S: Serializer>(limit: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match limit {
            Some(n) => serializer.serialize_u64(*n),
            None => serializer.serialize_str(WORD),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Limit {
            Number(u64),
            Word(String),
        }
        match Limit::deserialize(deserializer)? {
            Limit::Number(n) => Ok(Some(n)),
            Limit::Word(word) if word == WORD => Ok(None),
            Limit::Word(word) => Err(de::Error::custom(format!(
                "expected a number or \"{WORD}\", found {word:?}"
            ))),
        }
    }
}

/// The limits of every plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTable {
    pub explorer: PlanLimits,
    pub professional: PlanLimits,
    pub business: PlanLimits,
    pub enterprise: PlanLimits,
}

impl PlanTable {
    pub fn limits(&self, plan: Plan) -> &PlanLimits {
        match plan {
            Plan::Explorer => &self.explorer,
            Plan::Professional => &self.professional,
            Plan::Business => &self.business,
            Plan::Enterprise => &self.enterprise,
        }
    }

    /// Every limit is at least 1 (a zero would lock a tenant out; unlimited is `None`).
    pub fn validate(&self) -> Result<(), String> {
        for (name, limits) in [
            ("explorer", &self.explorer),
            ("professional", &self.professional),
            ("business", &self.business),
            ("enterprise", &self.enterprise),
        ] {
            let zero = limits.requests_per_minute == 0
                || limits.concurrent_tasks == 0
                || limits.requests_per_day == Some(0)
                || limits.max_agents == Some(0);
            if zero {
                return Err(format!("plans.{name}: every limit must be at least 1"));
            }
        }
        Ok(())
    }
}

impl Default for PlanTable {
    fn default() -> Self {
        let plan = |per_minute, per_day, agents, tasks| PlanLimits {
            requests_per_minute: per_minute,
            requests_per_day: per_day,
            max_agents: agents,
            concurrent_tasks: tasks,
        };
        Self {
            explorer: plan(60, Some(1_000), Some(1), 1),
            professional: plan(500, Some(50_000), Some(5), 5),
            business: plan(2_000, Some(500_000), None, 25),
            enterprise: plan(10_000, None, None, 100),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_published_plans() {
        let table = PlanTable::default();
        assert!(table.validate().is_ok());
        assert_eq!(table.limits(Plan::Explorer).requests_per_day, Some(1_000));
        assert_eq!(table.limits(Plan::Business).max_agents, None);
        assert_eq!(table.limits(Plan::Enterprise).concurrent_tasks, 100);
    }

    #[test]
    fn unlimited_is_a_word_in_configuration() {
        let limits: PlanLimits = serde_json::from_value(serde_json::json!({
            "requests_per_minute": 5,
            "requests_per_day": "unlimited",
            "max_agents": 3,
            "concurrent_tasks": 1,
        }))
        .unwrap();
        assert_eq!(limits.requests_per_day, None);
        assert_eq!(limits.max_agents, Some(3));
        let back = serde_json::to_value(limits).unwrap();
        assert_eq!(back["requests_per_day"], "unlimited");
        let wrong = serde_json::json!({"requests_per_minute": 5, "requests_per_day": "lots",
            "max_agents": 3, "concurrent_tasks": 1});
        assert!(serde_json::from_value::<PlanLimits>(wrong).is_err());
    }

    #[test]
    fn a_zero_limit_is_refused() {
        let mut table = PlanTable::default();
        table.professional.concurrent_tasks = 0;
        assert!(table.validate().is_err());
    }
}

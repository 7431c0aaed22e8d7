//! What each plan allows a tenant: requests per minute and per day, agents, and concurrent
//! tasks (requests in flight through the gateway). The numbers are configuration; these are
//! the defaults.

use serde::{Deserialize, Serialize};

use crate::tenant::Plan;

/// One plan's limits. `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLimits {
    pub requests_per_minute: u64,
    pub requests_per_day: Option<u64>,
    pub max_agents: Option<u64>,
    pub concurrent_tasks: u64,
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
    fn a_zero_limit_is_refused() {
        let mut table = PlanTable::default();
        table.professional.concurrent_tasks = 0;
        assert!(table.validate().is_err());
    }
}

//! Finding the runtime an `X-Entity` request goes to. The lookup is on every such request, so
//! running placements are kept for a second: long enough to spare the store under load, short
//! enough that a runtime that stops or moves is noticed at once in practice. Anything not
//! running is always read afresh, so a runtime that comes up takes traffic immediately.

use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use tessera_core::placement::{Placement, PlacementStatus};
use tessera_core::{AgentId, StoreError, TenantId};

use crate::state::AppState;

const FRESH_FOR: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct PlacementCache {
    by_entity: Cache<TenantId, (Placement, Instant)>,
    /// An agent's placement never changes entity, so this mapping has no expiry.
    entity_of_agent: Cache<AgentId, TenantId>,
}

/// What `X-Entity` named.
#[derive(Debug)]
pub enum Lookup {
    Found(Placement),
    Unknown,
    /// Not an entity or agent id at all.
    Malformed,
}

impl PlacementCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            by_entity: Cache::new(capacity),
            entity_of_agent: Cache::new(capacity),
        }
    }

    /// The placement named by `raw`: an entity id, else (older rows) an agent id.
    pub async fn find(&self, state: &AppState, raw: &str) -> Result<Lookup, StoreError> {
        if let Ok(entity) = raw.parse::<TenantId>() {
            return Ok(match self.by_entity(state, entity).await? {
                Some(placement) => Lookup::Found(placement),
                None => Lookup::Unknown,
            });
        }
        let Ok(agent) = raw.parse::<AgentId>() else {
            return Ok(Lookup::Malformed);
        };
        if let Some(entity) = self.entity_of_agent.get(&agent) {
            return Ok(match self.by_entity(state, entity).await? {
                Some(placement) => Lookup::Found(placement),
                None => Lookup::Unknown,
            });
        }
        Ok(match state.store.placement_by_agent(agent).await? {
            Some(placement) => {
                self.entity_of_agent.insert(agent, placement.entity_id);
                self.remember(&placement);
                Lookup::Found(placement)
            }
            None => Lookup::Unknown,
        })
    }

    async fn by_entity(
        &self,
        state: &AppState,
        entity: TenantId,
    ) -> Result<Option<Placement>, StoreError> {
        if let Some((placement, at)) = self.by_entity.get(&entity)
            && at.elapsed() < FRESH_FOR
        {
            return Ok(Some(placement));
        }
        let placement = state.store.placement(entity).await?;
        if let Some(placement) = &placement {
            self.remember(placement);
        }
        Ok(placement)
    }

    fn remember(&self, placement: &Placement) {
        if placement.status == PlacementStatus::Running {
            self.by_entity
                .insert(placement.entity_id, (placement.clone(), Instant::now()));
        } else {
            self.by_entity.remove(&placement.entity_id);
        }
    }
}

//! Blueprints: what a runtime is to become. Tessera reads only the `agents` list (each one
//! becomes an agent of the entity, checked like `POST /v1/tenants/{t}/agents`); everything
//! else (roles, tools, prompts…) is the runtime's, posted to it unchanged.

use serde_json::Value;
use tessera_proto::agents::CreateAgentRequest;
use tessera_proto::placements::BlueprintAgent;

/// The most agents one blueprint may list.
pub const MAX_AGENTS: usize = 100;

/// The agents `blueprint` lists, as creation requests; a message naming the field otherwise.
pub fn agents(blueprint: &Value) -> Result<Vec<CreateAgentRequest>, String> {
    let Some(object) = blueprint.as_object() else {
        return Err("blueprint: must be a JSON object".into());
    };
    let Some(list) = object.get("agents") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err("blueprint.agents: must be an array".into());
    };
    if list.len() > MAX_AGENTS {
        return Err(format!("blueprint.agents: at most {MAX_AGENTS}"));
    }
    list.iter()
        .enumerate()
        .map(|(i, entry)| {
            let agent: BlueprintAgent = serde_json::from_value(entry.clone())
                .map_err(|e| format!("blueprint.agents[{i}]: {e}"))?;
            Ok(CreateAgentRequest {
                name: agent.name,
                description: agent.description,
                capabilities: agent.capabilities,
                scopes: agent.scopes,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_the_agents_and_leaves_the_rest() {
        let blueprint = json!({
            "agents": [{"name": "a", "role": "analyst"}, {"name": "b", "scopes": ["docs:read"]}],
            "roles": ["analyst"],
        });
        let agents = agents(&blueprint).unwrap();
        assert_eq!(agents.len(), 2);
        assert_eq!(agents[1].scopes, ["docs:read"]);
        assert!(super::agents(&json!({"roles": []})).unwrap().is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_list_of_agents() {
        assert!(agents(&json!([1])).unwrap_err().starts_with("blueprint:"));
        assert!(agents(&json!({"agents": {}})).is_err());
        let missing_name = agents(&json!({"agents": [{"role": "x"}]})).unwrap_err();
        assert!(
            missing_name.starts_with("blueprint.agents[0]:"),
            "{missing_name}"
        );
        let wrong_type = agents(&json!({"agents": [{"name": 3}]})).unwrap_err();
        assert!(wrong_type.contains("blueprint.agents[0]"), "{wrong_type}");
    }
}

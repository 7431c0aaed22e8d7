//! Typed shortcuts for the steps most tests start with: register a tenant, create an agent,
//! get a token. Each asserts the happy path so that a test failing here says where.

use serde_json::{Value, json};
use tessera_proto::agents::CreatedAgent;
use tessera_proto::oauth2::TokenResponse;
use tessera_proto::tenants::CreatedTenant;

use crate::TestServer;

/// A registered tenant and its first API key (scope `*`).
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub id: String,
    pub api_key: String,
}

/// An agent and its first client secret.
#[derive(Debug, Clone)]
pub struct TestAgent {
    pub id: String,
    pub tenant_id: String,
    pub client_secret: String,
}

impl TestServer {
    pub async fn register_tenant(&self, name: &str) -> TestTenant {
        let response = self
            .http
            .post(self.url("/v1/tenants"))
            .json(&json!({"name": name, "email": "owner@example.com", "kind": "consumer"}))
            .send()
            .await
            .expect("POST /v1/tenants");
        assert_eq!(response.status(), 201, "registering a tenant");
        let created: CreatedTenant = response.json().await.expect("tenant body");
        TestTenant {
            id: created.tenant.id,
            api_key: created.api_key,
        }
    }

    pub async fn create_agent(&self, tenant: &TestTenant, scopes: &[&str]) -> TestAgent {
        let response = self
            .http
            .post(self.url(&format!("/v1/tenants/{}/agents", tenant.id)))
            .header("x-api-key", &tenant.api_key)
            .json(&json!({"name": "test agent", "scopes": scopes}))
            .send()
            .await
            .expect("POST agents");
        assert_eq!(response.status(), 201, "creating an agent");
        let created: CreatedAgent = response.json().await.expect("agent body");
        TestAgent {
            id: created.client_id,
            tenant_id: created.agent.tenant_id,
            client_secret: created.client_secret,
        }
    }

    /// `client_credentials` with HTTP Basic; `scope` None asks for all of the agent's scopes.
    pub async fn token_response(
        &self,
        agent: &TestAgent,
        scope: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.http
            .post(self.url("/oauth2/token"))
            .basic_auth(&agent.id, Some(&agent.client_secret))
            .form(&form)
            .send()
            .await
            .expect("POST /oauth2/token")
    }

    pub async fn token(&self, agent: &TestAgent, scope: Option<&str>) -> String {
        let response = self.token_response(agent, scope).await;
        assert_eq!(response.status(), 200, "issuing a token");
        response
            .json::<TokenResponse>()
            .await
            .expect("token body")
            .access_token
    }

    /// Introspects `token` as `api_key`'s holder; returns the RFC 7662 JSON.
    pub async fn introspect(&self, api_key: &str, token: &str) -> Value {
        let response = self
            .http
            .post(self.url("/oauth2/introspect"))
            .header("x-api-key", api_key)
            .form(&[("token", token)])
            .send()
            .await
            .expect("POST /oauth2/introspect");
        assert_eq!(response.status(), 200, "introspecting");
        response.json().await.expect("introspection body")
    }

    /// Whether the token is active, asked by the operator (who may see every tenant).
    pub async fn is_active(&self, token: &str) -> bool {
        self.introspect(&self.operator_key, token).await["active"] == json!(true)
    }
}

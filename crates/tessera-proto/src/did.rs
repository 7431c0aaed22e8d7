//! W3C DID documents (DID Core 1.0) for the `did:web` method: Tessera's own and each agent's,
//! their keys as `JsonWebKey2020` verification methods.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DidDocument {
    #[serde(rename = "@context")]
    pub context: Vec<String>,
    /// `did:web:<host>` (Tessera) or `did:web:<host>:v1:agents:<agent_id>` (an agent).
    pub id: String,
    /// Who controls the document: Tessera's DID for an agent's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    pub verification_method: Vec<VerificationMethod>,
    /// Ids of the verification methods that authenticate the subject.
    pub authentication: Vec<String>,
    /// Ids of the verification methods that sign statements for the subject.
    pub assertion_method: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMethod {
    /// `<did>#<kid>`.
    pub id: String,
    /// Always `JsonWebKey2020`.
    #[serde(rename = "type")]
    pub kind: String,
    pub controller: String,
    #[schema(value_type = Object)]
    pub public_key_jwk: serde_json::Value,
}

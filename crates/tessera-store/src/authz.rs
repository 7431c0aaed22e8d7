//! OAuth clients, grants with their codes and refresh tokens, and remembered consent (per
//! client, person and resource).
//!
//! Redeeming a code and rotating a refresh token each run in one transaction that first marks
//! the presented secret used (`WHERE … used_at IS NULL`): of two concurrent presentations exactly
//! one changes the row, and the other is a replay that revokes the grant.

use async_trait::async_trait;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use tessera_core::authz::{
    AppGrant, AuthorizationStore, ClientAuthMethod, ClientKeys, Grant, GrantRefreshToken,
    GrantRotation, OAuthClient, Redemption,
};
use tessera_core::store::StoreResult;
use tessera_core::{GrantId, OAuthClientId, Scopes, StoreError, TenantId, UserId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{corrupt, db_error, write_error};
use crate::rows::{all, capabilities_json, get, hash, opt_secs, opt_time, parsed, secs, time};

/// The `resource` of consent to Tessera's own API (whose identifier is configuration).
const OWN_API: &str = "";

macro_rules! client_columns {
    () => {
        "id, tenant_id, name, secret_hash, redirect_uris, scopes, registration_token_hash, \
         created_at, auth_method, jwks, jwks_uri, grant_types"
    };
}

macro_rules! grant_columns {
    () => {
        "id, tenant_id, client_id, user_id, scope, auth_time, code_hash, redirect_uri, \
         code_challenge, nonce, code_expires_at, code_used_at, created_at, revoked_at, resources, \
         dpop_jkt"
    };
}

fn opt_hash(row: &AnyRow, column: &'static str) -> Result<Option<[u8; 32]>, StoreError> {
    let bytes: Option<Vec<u8>> = get(row, column)?;
    bytes
        .map(|bytes| {
            <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| corrupt(column, format_args!("{} bytes", bytes.len())))
        })
        .transpose()
}

fn client(row: &AnyRow) -> Result<OAuthClient, StoreError> {
    Ok(OAuthClient {
        id: parsed(row, "id", str::parse)?,
        tenant_id: parsed(row, "tenant_id", str::parse)?,
        name: get(row, "name")?,
        secret_hash: opt_hash(row, "secret_hash")?,
        redirect_uris: parsed(row, "redirect_uris", |text| {
            serde_json::from_str::<Vec<String>>(text)
        })?,
        scopes: parsed(row, "scopes", Scopes::parse)?,
        registration_token_hash: opt_hash(row, "registration_token_hash")?,
        created_at: time(row, "created_at")?,
        auth_method: parsed(row, "auth_method", |name| {
            ClientAuthMethod::parse(name).ok_or("unknown method")
        })?,
        keys: client_keys(row)?,
        grant_types: parsed(row, "grant_types", |text| {
            serde_json::from_str::<Vec<String>>(text)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|name| AppGrant::parse(name).ok_or_else(|| format!("grant type {name}")))
                .collect::<Result<Vec<_>, _>>()
        })?,
    })
}

fn client_keys(row: &AnyRow) -> Result<Option<ClientKeys>, StoreError> {
    let jwks: Option<String> = get(row, "jwks")?;
    let jwks_uri: Option<String> = get(row, "jwks_uri")?;
    match (jwks, jwks_uri) {
        (None, None) => Ok(None),
        (Some(jwks), None) => Ok(Some(ClientKeys::Jwks(jwks))),
        (None, Some(uri)) => Ok(Some(ClientKeys::JwksUri(uri))),
        (Some(_), Some(_)) => Err(corrupt("jwks", "both jwks and jwks_uri")),
    }
}

/// The client's keys as the `jwks` and `jwks_uri` columns.
fn key_columns(keys: Option<&ClientKeys>) -> (Option<&str>, Option<&str>) {
    match keys {
        None => (None, None),
        Some(ClientKeys::Jwks(jwks)) => (Some(jwks), None),
        Some(ClientKeys::JwksUri(uri)) => (None, Some(uri)),
    }
}

fn grant_types_json(grants: &[AppGrant]) -> String {
    serde_json::Value::from(grants.iter().map(|g| g.as_str()).collect::<Vec<_>>()).to_string()
}

fn grant(row: &AnyRow) -> Result<Grant, StoreError> {
    Ok(Grant {
        id: parsed(row, "id", str::parse)?,
        tenant_id: parsed(row, "tenant_id", str::parse)?,
        client_id: parsed(row, "client_id", str::parse)?,
        user_id: parsed(row, "user_id", str::parse)?,
        scope: parsed(row, "scope", Scopes::parse)?,
        auth_time: time(row, "auth_time")?,
        code_hash: hash(row, "code_hash")?,
        redirect_uri: get(row, "redirect_uri")?,
        code_challenge: get(row, "code_challenge")?,
        nonce: get(row, "nonce")?,
        code_expires_at: time(row, "code_expires_at")?,
        code_used_at: opt_time(row, "code_used_at")?,
        created_at: time(row, "created_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
        resources: get::<Option<String>>(row, "resources")?
            .map(|list| list.split(' ').map(str::to_owned).collect())
            .unwrap_or_default(),
        dpop_jkt: get(row, "dpop_jkt")?,
    })
}

async fn read_grant(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Grant>> {
    sqlx::query(concat!(
        "SELECT ",
        grant_columns!(),
        " FROM oauth_grants WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db_error)?
    .as_ref()
    .map(grant)
    .transpose()
}

/// Whether the grant was not revoked before (and is now).
async fn revoke_grant(
    conn: &mut AnyConnection,
    id: GrantId,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let revoked =
        sqlx::query("UPDATE oauth_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.to_string())
            .bind(secs(at))
            .execute(conn)
            .await
            .map_err(db_error)?
            .rows_affected();
    Ok(revoked == 1)
}

async fn insert_refresh(conn: &mut AnyConnection, token: &GrantRefreshToken) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO oauth_refresh_tokens (hash, grant_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token.hash.as_slice())
    .bind(token.grant_id.to_string())
    .bind(secs(token.expires_at))
    .execute(conn)
    .await
    .map_err(|e| write_error(e, "oauth_refresh_tokens.hash"))?;
    Ok(())
}

#[async_trait]
impl AuthorizationStore for SqlStore {
    async fn create_oauth_client(&self, c: &OAuthClient) -> StoreResult<()> {
        let (jwks, jwks_uri) = key_columns(c.keys.as_ref());
        sqlx::query(concat!(
            "INSERT INTO oauth_clients (",
            client_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(c.id.to_string())
        .bind(c.tenant_id.to_string())
        .bind(&c.name)
        .bind(c.secret_hash.as_ref().map(|h| h.to_vec()))
        .bind(capabilities_json(&c.redirect_uris))
        .bind(c.scopes.to_string())
        .bind(c.registration_token_hash.as_ref().map(|h| h.to_vec()))
        .bind(secs(c.created_at))
        .bind(c.auth_method.as_str())
        .bind(jwks)
        .bind(jwks_uri)
        .bind(grant_types_json(&c.grant_types))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "oauth_clients.tenant_id"))?;
        Ok(())
    }

    async fn oauth_client(
        &self,
        tenant: TenantId,
        id: OAuthClientId,
    ) -> StoreResult<Option<OAuthClient>> {
        sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM oauth_clients WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(client)
        .transpose()
    }

    async fn oauth_client_by_id(&self, id: OAuthClientId) -> StoreResult<Option<OAuthClient>> {
        sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM oauth_clients WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(client)
        .transpose()
    }

    async fn oauth_clients(&self, tenant: TenantId) -> StoreResult<Vec<OAuthClient>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM oauth_clients WHERE tenant_id = $1 ORDER BY id"
        ))
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, client)
    }

    async fn delete_oauth_client(&self, tenant: TenantId, id: OAuthClientId) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM oauth_clients WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn update_oauth_client(&self, c: &OAuthClient) -> StoreResult<bool> {
        let (jwks, jwks_uri) = key_columns(c.keys.as_ref());
        let updated = sqlx::query(
            "UPDATE oauth_clients SET name = $3, secret_hash = $4, redirect_uris = $5, \
             scopes = $6, auth_method = $7, jwks = $8, jwks_uri = $9, grant_types = $10 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(c.tenant_id.to_string())
        .bind(c.id.to_string())
        .bind(&c.name)
        .bind(c.secret_hash.as_ref().map(|h| h.to_vec()))
        .bind(capabilities_json(&c.redirect_uris))
        .bind(c.scopes.to_string())
        .bind(c.auth_method.as_str())
        .bind(jwks)
        .bind(jwks_uri)
        .bind(grant_types_json(&c.grant_types))
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(updated > 0)
    }

    async fn create_grant(&self, g: &Grant) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO oauth_grants (",
            grant_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(g.id.to_string())
        .bind(g.tenant_id.to_string())
        .bind(g.client_id.to_string())
        .bind(g.user_id.to_string())
        .bind(g.scope.to_string())
        .bind(secs(g.auth_time))
        .bind(g.code_hash.as_slice())
        .bind(&g.redirect_uri)
        .bind(g.code_challenge.as_deref())
        .bind(g.nonce.as_deref())
        .bind(secs(g.code_expires_at))
        .bind(opt_secs(g.code_used_at))
        .bind(secs(g.created_at))
        .bind(opt_secs(g.revoked_at))
        .bind((!g.resources.is_empty()).then(|| g.resources.join(" ")))
        .bind(g.dpop_jkt.as_deref())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "oauth_grants.client_id"))?;
        Ok(())
    }

    async fn grant(&self, id: GrantId) -> StoreResult<Option<Grant>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        read_grant(&mut conn, &id.to_string()).await
    }

    async fn redeem_code(
        &self,
        code_hash: &[u8; 32],
        client: OAuthClientId,
        at: OffsetDateTime,
    ) -> StoreResult<Redemption> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let used = sqlx::query(
            "UPDATE oauth_grants SET code_used_at = $2 \
             WHERE code_hash = $1 AND client_id = $3 AND code_used_at IS NULL \
             AND code_expires_at > $2 AND revoked_at IS NULL",
        )
        .bind(code_hash.as_slice())
        .bind(secs(at))
        .bind(client.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let Some(mut found) = sqlx::query(concat!(
            "SELECT ",
            grant_columns!(),
            " FROM oauth_grants WHERE code_hash = $1"
        ))
        .bind(code_hash.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(grant)
        .transpose()?
        else {
            return Ok(Redemption::Invalid);
        };
        // Another client's code is not this client's to burn: nothing changes.
        if found.client_id != client {
            return Ok(Redemption::Invalid);
        }
        if used == 1 {
            tx.commit().await.map_err(db_error)?;
            return Ok(Redemption::Redeemed(found));
        }
        if found.code_used_at.is_none() || !found.is_live() {
            return Ok(Redemption::Invalid);
        }
        revoke_grant(&mut tx, found.id, at).await?;
        tx.commit().await.map_err(db_error)?;
        found.revoked_at = Some(at);
        Ok(Redemption::Replayed(found))
    }

    async fn grant_of_refresh_token(&self, hash: &[u8; 32]) -> StoreResult<Option<Grant>> {
        sqlx::query(concat!(
            "SELECT ",
            grant_columns!(),
            " FROM oauth_grants WHERE id = \
             (SELECT grant_id FROM oauth_refresh_tokens WHERE hash = $1)"
        ))
        .bind(hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(grant)
        .transpose()
    }

    async fn revoke_grant(&self, id: GrantId, at: OffsetDateTime) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        revoke_grant(&mut conn, id, at).await
    }

    async fn bind_grant_dpop_key(&self, grant: GrantId, jkt: &str) -> StoreResult<()> {
        sqlx::query("UPDATE oauth_grants SET dpop_jkt = $2 WHERE id = $1 AND dpop_jkt IS NULL")
            .bind(grant.to_string())
            .bind(jkt)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn insert_grant_refresh_token(&self, token: &GrantRefreshToken) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        insert_refresh(&mut conn, token).await
    }

    async fn rotate_grant_refresh_token(
        &self,
        presented: &[u8; 32],
        client: OAuthClientId,
        next: &[u8; 32],
        next_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<GrantRotation> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let used = sqlx::query(
            "UPDATE oauth_refresh_tokens SET used_at = $2 \
             WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(presented.as_slice())
        .bind(secs(at))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let Some(row) =
            sqlx::query("SELECT grant_id, used_at FROM oauth_refresh_tokens WHERE hash = $1")
                .bind(presented.as_slice())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?
        else {
            return Ok(GrantRotation::Invalid);
        };
        let grant_id: String = get(&row, "grant_id")?;
        let Some(mut current) = read_grant(&mut tx, &grant_id).await? else {
            return Ok(GrantRotation::Invalid);
        };
        // Another client's token: dropping the transaction undoes the mark above.
        if current.client_id != client {
            return Ok(GrantRotation::Invalid);
        }
        if used == 0 {
            // Known but not usable: used before (reuse: revoke the family), or expired.
            let used_at: Option<i64> = get(&row, "used_at")?;
            if used_at.is_none() || !current.is_live() {
                return Ok(GrantRotation::Invalid);
            }
            revoke_grant(&mut tx, current.id, at).await?;
            tx.commit().await.map_err(db_error)?;
            current.revoked_at = Some(at);
            return Ok(GrantRotation::Reused(current));
        }
        if !current.is_live() {
            return Ok(GrantRotation::Invalid);
        }
        let next = GrantRefreshToken {
            hash: *next,
            grant_id: current.id,
            expires_at: next_expires_at,
        };
        insert_refresh(&mut tx, &next).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(GrantRotation::Rotated(current))
    }

    async fn consent(
        &self,
        client: OAuthClientId,
        user: UserId,
        resource: Option<&str>,
    ) -> StoreResult<Option<Scopes>> {
        let row = sqlx::query(
            "SELECT scope FROM oauth_consents \
             WHERE client_id = $1 AND user_id = $2 AND resource = $3",
        )
        .bind(client.to_string())
        .bind(user.to_string())
        .bind(resource.unwrap_or(OWN_API))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref()
            .map(|row| parsed(row, "scope", Scopes::parse))
            .transpose()
    }

    async fn save_consent(
        &self,
        client: OAuthClientId,
        user: UserId,
        resource: Option<&str>,
        scope: &Scopes,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let resource = resource.unwrap_or(OWN_API);
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // A write first: SQLite takes its write lock now, rather than failing ("database is
        // locked") to upgrade the read below while another connection writes.
        sqlx::query(
            "UPDATE oauth_consents SET scope = scope \
             WHERE client_id = $1 AND user_id = $2 AND resource = $3",
        )
        .bind(client.to_string())
        .bind(user.to_string())
        .bind(resource)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let before: Option<String> = sqlx::query_scalar(
            "SELECT scope FROM oauth_consents \
             WHERE client_id = $1 AND user_id = $2 AND resource = $3",
        )
        .bind(client.to_string())
        .bind(user.to_string())
        .bind(resource)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let before = before
            .map(|text| Scopes::parse(&text).map_err(|e| corrupt("scope", e)))
            .transpose()?
            .unwrap_or_default();
        let union = Scopes::new(before.iter().chain(scope.iter()).map(str::to_owned))
            .map_err(|e| corrupt("scope", e))?;
        sqlx::query(
            "INSERT INTO oauth_consents (client_id, user_id, resource, scope, granted_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (client_id, user_id, resource) DO UPDATE SET scope = $4, granted_at = $5",
        )
        .bind(client.to_string())
        .bind(user.to_string())
        .bind(resource)
        .bind(union.to_string())
        .bind(secs(at))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "oauth_consents.client_id"))?;
        tx.commit().await.map_err(db_error)
    }
}

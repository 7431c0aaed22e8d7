//! Users, their identities and wallets, and memberships. Changes that must leave something
//! behind (a user's last identity, a tenant's last owner) first write the parent row, which
//! serializes them per user or per tenant on both backends before the count is taken.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_core::people::{
    Chain, Identity, IdentityKind, MemberChange, Membership, PeopleStore, Role, Unlinked, User,
    Wallet,
};
use tessera_core::store::StoreResult;
use tessera_core::tenant::Tenant;
use tessera_core::{IdentityId, StoreError, TenantId, UserId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{all, get, opt_time, parsed, secs, time, word};

macro_rules! identity_columns {
    () => {
        "id, user_id, kind, subject, credential, created_at, last_used_at"
    };
}
macro_rules! membership_columns {
    () => {
        "tenant_id, user_id, role, created_at"
    };
}

fn user(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: parsed(row, "id", str::parse)?,
        email: get(row, "email")?,
        name: get(row, "name")?,
        created_at: time(row, "created_at")?,
    })
}

fn identity(row: &AnyRow) -> Result<Identity, StoreError> {
    Ok(Identity {
        id: parsed(row, "id", str::parse)?,
        user_id: parsed(row, "user_id", str::parse)?,
        kind: parsed(row, "kind", |text| {
            IdentityKind::parse(text).ok_or_else(|| format!("unknown kind `{text}`"))
        })?,
        subject: get(row, "subject")?,
        credential: get(row, "credential")?,
        created_at: time(row, "created_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
    })
}

fn wallet(row: &AnyRow) -> Result<Wallet, StoreError> {
    Ok(Wallet {
        id: parsed(row, "id", str::parse)?,
        user_id: parsed(row, "user_id", str::parse)?,
        chain: word(row, "chain", Chain::parse)?,
        address: get(row, "address")?,
        sealed_key: get(row, "sealed_key")?,
        created_at: time(row, "created_at")?,
    })
}

fn membership(row: &AnyRow) -> Result<Membership, StoreError> {
    Ok(Membership {
        tenant_id: parsed(row, "tenant_id", str::parse)?,
        user_id: parsed(row, "user_id", str::parse)?,
        role: word(row, "role", Role::parse)?,
        created_at: time(row, "created_at")?,
    })
}

async fn insert_identity_on(
    conn: &mut sqlx::AnyConnection,
    identity: &Identity,
) -> StoreResult<()> {
    sqlx::query(concat!(
        "INSERT INTO identities (",
        identity_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(identity.id.to_string())
    .bind(identity.user_id.to_string())
    .bind(identity.kind.as_str().into_owned())
    .bind(&identity.subject)
    .bind(identity.credential.as_deref())
    .bind(secs(identity.created_at))
    .bind(identity.last_used_at.map(secs))
    .execute(conn)
    .await
    .map_err(|e| write_error(e, "identities.kind"))?;
    Ok(())
}

async fn insert_membership_on(conn: &mut sqlx::AnyConnection, m: &Membership) -> StoreResult<()> {
    sqlx::query(concat!(
        "INSERT INTO memberships (",
        membership_columns!(),
        ") VALUES ($1, $2, $3, $4)"
    ))
    .bind(m.tenant_id.to_string())
    .bind(m.user_id.to_string())
    .bind(m.role.as_str())
    .bind(secs(m.created_at))
    .execute(conn)
    .await
    .map_err(|e| write_error(e, "memberships.tenant_id"))?;
    Ok(())
}

/// Takes the tenant's row lock (PostgreSQL) or the write lock (SQLite) for the transaction.
async fn lock_tenant(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> StoreResult<bool> {
    let touched = sqlx::query("UPDATE tenants SET id = id WHERE id = $1")
        .bind(tenant.to_string())
        .execute(conn)
        .await
        .map_err(db_error)?
        .rows_affected();
    Ok(touched > 0)
}

async fn owners(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> StoreResult<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM memberships WHERE tenant_id = $1 AND role = 'owner'",
    )
    .bind(tenant.to_string())
    .fetch_one(conn)
    .await
    .map_err(db_error)?;
    get(&row, "n")
}

#[async_trait]
impl PeopleStore for SqlStore {
    async fn create_user(
        &self,
        user: &User,
        identities: &[Identity],
        wallet: &Wallet,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("INSERT INTO users (id, email, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user.id.to_string())
            .bind(user.email.as_deref())
            .bind(user.name.as_deref())
            .bind(secs(user.created_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "users.id"))?;
        for identity in identities {
            insert_identity_on(&mut tx, identity).await?;
        }
        sqlx::query(
            "INSERT INTO wallets (id, user_id, chain, address, sealed_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(wallet.id.to_string())
        .bind(wallet.user_id.to_string())
        .bind(wallet.chain.as_str())
        .bind(&wallet.address)
        .bind(wallet.sealed_key.as_slice())
        .bind(secs(wallet.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "wallets.chain"))?;
        tx.commit().await.map_err(db_error)
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        sqlx::query("SELECT id, email, name, created_at FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(user)
            .transpose()
    }

    async fn set_user_email(&self, id: UserId, email: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET email = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(email)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn identity(&self, kind: &IdentityKind, subject: &str) -> StoreResult<Option<Identity>> {
        sqlx::query(concat!(
            "SELECT ",
            identity_columns!(),
            " FROM identities WHERE kind = $1 AND subject = $2"
        ))
        .bind(kind.as_str().into_owned())
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(identity)
        .transpose()
    }

    async fn insert_identities(&self, identities: &[Identity]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        for identity in identities {
            insert_identity_on(&mut tx, identity).await?;
        }
        tx.commit().await.map_err(db_error)
    }

    async fn identities(&self, user: UserId) -> StoreResult<Vec<Identity>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            identity_columns!(),
            " FROM identities WHERE user_id = $1 ORDER BY id"
        ))
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, identity)
    }

    async fn touch_identity(
        &self,
        id: IdentityId,
        credential: Option<&str>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE identities SET last_used_at = $2, credential = COALESCE($3, credential) \
             WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(secs(at))
        .bind(credential)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn replace_identity_credential(
        &self,
        id: IdentityId,
        expected: &str,
        credential: &str,
    ) -> StoreResult<bool> {
        let result =
            sqlx::query("UPDATE identities SET credential = $3 WHERE id = $1 AND credential = $2")
                .bind(id.to_string())
                .bind(expected)
                .bind(credential)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn unlink_identity(&self, user: UserId, id: IdentityId) -> StoreResult<Unlinked> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let locked = sqlx::query("UPDATE users SET id = id WHERE id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if locked == 0 {
            return Ok(Unlinked::NotFound);
        }
        let row = sqlx::query("SELECT COUNT(*) AS n FROM identities WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let count: i64 = get(&row, "n")?;
        let exists = sqlx::query("SELECT 1 AS one FROM identities WHERE user_id = $1 AND id = $2")
            .bind(user.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .is_some();
        if !exists {
            return Ok(Unlinked::NotFound);
        }
        if count <= 1 {
            return Ok(Unlinked::LastIdentity);
        }
        sqlx::query("DELETE FROM identities WHERE user_id = $1 AND id = $2")
            .bind(user.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Unlinked::Removed)
    }

    async fn wallets(&self, user: UserId) -> StoreResult<Vec<Wallet>> {
        let rows = sqlx::query(
            "SELECT id, user_id, chain, address, sealed_key, created_at FROM wallets \
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, wallet)
    }

    async fn create_owned_tenant(&self, tenant: &Tenant, owner: UserId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        Self::insert_tenant_on(&mut tx, tenant).await?;
        let membership = Membership {
            tenant_id: tenant.id,
            user_id: owner,
            role: Role::Owner,
            created_at: tenant.created_at,
        };
        insert_membership_on(&mut tx, &membership).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn insert_membership(&self, membership: &Membership) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        insert_membership_on(&mut conn, membership).await
    }

    async fn membership(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<Membership>> {
        sqlx::query(concat!(
            "SELECT ",
            membership_columns!(),
            " FROM memberships WHERE tenant_id = $1 AND user_id = $2"
        ))
        .bind(tenant.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(membership)
        .transpose()
    }

    async fn memberships(&self, user: UserId) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            membership_columns!(),
            " FROM memberships WHERE user_id = $1 ORDER BY created_at, tenant_id"
        ))
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, membership)
    }

    async fn members(&self, tenant: TenantId) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            membership_columns!(),
            " FROM memberships WHERE tenant_id = $1 ORDER BY created_at, user_id"
        ))
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, membership)
    }

    async fn set_role(
        &self,
        tenant: TenantId,
        user: UserId,
        role: Role,
    ) -> StoreResult<MemberChange> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        if !lock_tenant(&mut tx, tenant).await? {
            return Ok(MemberChange::NotFound);
        }
        let changed =
            sqlx::query("UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant.to_string())
                .bind(user.to_string())
                .bind(role.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
        if changed == 0 {
            return Ok(MemberChange::NotFound);
        }
        if owners(&mut tx, tenant).await? == 0 {
            return Ok(MemberChange::LastOwner);
        }
        tx.commit().await.map_err(db_error)?;
        Ok(MemberChange::Done)
    }

    async fn remove_member(&self, tenant: TenantId, user: UserId) -> StoreResult<MemberChange> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        if !lock_tenant(&mut tx, tenant).await? {
            return Ok(MemberChange::NotFound);
        }
        let removed = sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if removed == 0 {
            return Ok(MemberChange::NotFound);
        }
        if owners(&mut tx, tenant).await? == 0 {
            return Ok(MemberChange::LastOwner);
        }
        tx.commit().await.map_err(db_error)?;
        Ok(MemberChange::Done)
    }
}

//! A PostgreSQL database of one test's own, created through the admin URL in
//! `TESSERA_TEST_DATABASE_URL` and dropped when the last server using it is gone.

use sqlx::{AssertSqlSafe, Connection, PgConnection, raw_sql};
use url::Url;

#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// None when the suite runs on SQLite.
    pub async fn from_env() -> anyhow::Result<Option<Self>> {
        let Ok(admin_url) = std::env::var("TESSERA_TEST_DATABASE_URL") else {
            return Ok(None);
        };
        let name = format!("tessera_t_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&admin_url).await?;
        // The name is generated here, never taken from input.
        raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let mut url = Url::parse(&admin_url)?;
        url.set_path(&format!("/{name}"));
        Ok(Some(Self {
            admin_url,
            name,
            url: url.to_string(),
        }))
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop cannot await; a short-lived runtime on its own thread does the cleanup.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                raw_sql(AssertSqlSafe(statement))
                    .execute(&mut admin)
                    .await?;
                admin.close().await?;
                Ok::<_, anyhow::Error>(())
            })
        });
        if let Ok(Err(error)) = cleanup.join() {
            eprintln!("dropping the test database failed: {error}");
        }
    }
}

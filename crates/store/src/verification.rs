//! Verification results and image references.

use async_trait::async_trait;
use time::OffsetDateTime;
use veriframe_core::blob::BlobKey;
use veriframe_core::ids::{InterviewId, TenantId};
use veriframe_core::ports::{ResultStore, StoreResult};
use veriframe_core::scores::Scores;
use veriframe_core::verification::{DocumentFindings, FaceFindings, LivenessFindings, SessionResults};

use crate::SqlStore;
use crate::db::{Conn, Dialect, Row, Value, corrupt, query};

fn blob_key(key: &str) -> StoreResult<BlobKey> {
    BlobKey::parse(key).ok_or_else(|| corrupt("blob key"))
}

pub(crate) fn blob_keys(keys: &[String]) -> StoreResult<Vec<BlobKey>> {
    keys.iter().map(|k| blob_key(k)).collect()
}

fn results(r: &Row) -> StoreResult<SessionResults> {
    Ok(SessionResults {
        document: r.opt_json("document", "document findings")?,
        face: r.opt_json("face", "face findings")?,
        liveness: r.opt_json("liveness", "liveness findings")?,
        document_data: r.opt_text("document_data_blob")?.as_deref().map(blob_key).transpose()?,
        scores: r.opt_json::<Scores>("scores", "scores")?,
    })
}

#[async_trait]
impl ResultStore for SqlStore {
    async fn results(&self, tenant: TenantId, session: InterviewId) -> StoreResult<SessionResults> {
        let found = query(
            "SELECT document, document_data_blob, face, liveness, scores FROM session_results
             WHERE tenant_id = $1 AND session_id = $2",
        )
        .bind(tenant.to_string())
        .bind(session.to_string())
        .fetch_optional_with(self.db.read(), results)
        .await?;
        Ok(found.unwrap_or_default())
    }

    async fn save_document_findings(
        &self,
        tenant: TenantId,
        session: InterviewId,
        findings: &DocumentFindings,
        data: Option<&BlobKey>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        query(
            "INSERT INTO session_results (session_id, tenant_id, document, document_data_blob, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (session_id) DO UPDATE SET document = excluded.document,
                 document_data_blob = excluded.document_data_blob, updated_at = excluded.updated_at",
        )
        .bind(session.to_string())
        .bind(tenant.to_string())
        .bind(Value::json(findings)?)
        .bind(data.map(BlobKey::as_str))
        .bind(at)
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    async fn save_face_findings(
        &self,
        tenant: TenantId,
        session: InterviewId,
        face: &FaceFindings,
        liveness: Option<&LivenessFindings>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        query(
            "INSERT INTO session_results (session_id, tenant_id, face, liveness, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (session_id) DO UPDATE SET face = excluded.face, liveness = excluded.liveness,
                 updated_at = excluded.updated_at",
        )
        .bind(session.to_string())
        .bind(tenant.to_string())
        .bind(Value::json(face)?)
        .bind(Value::opt_json(liveness)?)
        .bind(at)
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    async fn save_scores(
        &self,
        tenant: TenantId,
        session: InterviewId,
        scores: &Scores,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        query(
            "INSERT INTO session_results (session_id, tenant_id, scores, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (session_id) DO UPDATE SET scores = excluded.scores, updated_at = excluded.updated_at",
        )
        .bind(session.to_string())
        .bind(tenant.to_string())
        .bind(Value::json(scores)?)
        .bind(at)
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    async fn put_image(
        &self,
        tenant: TenantId,
        session: InterviewId,
        name: &str,
        key: &BlobKey,
        at: OffsetDateTime,
    ) -> StoreResult<Option<BlobKey>> {
        let mut tx = self.db.begin().await?;
        let old = register_image(tx.conn(), self.dialect(), tenant, session, name, key, at).await?;
        tx.commit().await?;
        Ok(old)
    }

    async fn images(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<(String, BlobKey)>> {
        query("SELECT name, blob_key FROM session_images WHERE tenant_id = $1 AND session_id = $2 ORDER BY name")
            .bind(tenant.to_string())
            .bind(session.to_string())
            .fetch_all_with(self.db.read(), |r| Ok((r.text("name")?, blob_key(&r.text("blob_key")?)?)))
            .await
    }

    async fn referenced_blobs(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<BlobKey>> {
        query(sqlx::AssertSqlSafe(format!(
            "SELECT j.value AS blob_key FROM captures c, {} WHERE c.tenant_id = $1 AND c.session_id = $2
             UNION SELECT blob_key FROM session_images WHERE tenant_id = $1 AND session_id = $2
             UNION SELECT document_data_blob FROM session_results
                 WHERE tenant_id = $1 AND session_id = $2 AND document_data_blob IS NOT NULL",
            self.dialect().json_strings("c.blobs")
        )))
        .bind(tenant.to_string())
        .bind(session.to_string())
        .fetch_all_with(self.db.read(), |r| blob_key(&r.text("blob_key")?))
        .await
    }
}

/// Points an image name at a blob, on the caller's transaction; returns the key it replaced.
pub(crate) async fn register_image(
    mut on: Conn<'_>,
    dialect: Dialect,
    tenant: TenantId,
    session: InterviewId,
    name: &str,
    key: &BlobKey,
    at: OffsetDateTime,
) -> StoreResult<Option<BlobKey>> {
    // A row lock where the database has them: a concurrent replacement of the same image
    // waits, so each replaced key is reported exactly once.
    let old = query(sqlx::AssertSqlSafe(format!(
        "SELECT blob_key FROM session_images WHERE tenant_id = $1 AND session_id = $2 AND name = $3 {}",
        dialect.for_update()
    )))
    .bind(tenant.to_string())
    .bind(session.to_string())
    .bind(name)
    .fetch_optional_with(on.reborrow(), |r| r.text("blob_key"))
    .await?;
    query(
        "INSERT INTO session_images (session_id, tenant_id, name, blob_key, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (session_id, name) DO UPDATE SET blob_key = excluded.blob_key, created_at = excluded.created_at",
    )
    .bind(session.to_string())
    .bind(tenant.to_string())
    .bind(name)
    .bind(key.as_str())
    .bind(at)
    .execute(on)
    .await?;
    old.filter(|o| o != key.as_str()).map(|k| blob_key(&k)).transpose()
}

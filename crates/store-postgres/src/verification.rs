//! Verification results and image references over PostgreSQL, and the helpers the capture and
//! job modules share.

use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::types::Json;
use time::OffsetDateTime;
use veriframe_core::blob::BlobKey;
use veriframe_core::ids::{InterviewId, TenantId};
use veriframe_core::ports::{ResultStore, StoreError, StoreResult};
use veriframe_core::scores::Scores;
use veriframe_core::verification::{DocumentFindings, FaceFindings, LivenessFindings, SessionResults};

use crate::PostgresStore;
use crate::rows::map_err;

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Other(format!("unreadable {what} in the database"))
}

pub(crate) fn from_value<T: serde::de::DeserializeOwned>(value: serde_json::Value, what: &str) -> StoreResult<T> {
    serde_json::from_value(value).map_err(|_| corrupt(what))
}

pub(crate) fn blob_keys(keys: &[String]) -> StoreResult<Vec<BlobKey>> {
    keys.iter().map(|k| BlobKey::parse(k).ok_or_else(|| corrupt("blob key"))).collect()
}

#[derive(sqlx::FromRow)]
struct ResultsRow {
    document: Option<serde_json::Value>,
    document_data_blob: Option<String>,
    face: Option<serde_json::Value>,
    liveness: Option<serde_json::Value>,
    scores: Option<serde_json::Value>,
}

#[async_trait]
impl ResultStore for PostgresStore {
    async fn results(&self, tenant: TenantId, session: InterviewId) -> StoreResult<SessionResults> {
        let row = sqlx::query_as::<_, ResultsRow>(
            "SELECT document, document_data_blob, face, liveness, scores FROM session_results
             WHERE tenant_id = $1 AND session_id = $2",
        )
        .bind(tenant.to_string())
        .bind(session.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?;
        let Some(r) = row else { return Ok(SessionResults::default()) };
        Ok(SessionResults {
            document: r.document.map(|v| from_value(v, "document findings")).transpose()?,
            face: r.face.map(|v| from_value(v, "face findings")).transpose()?,
            liveness: r.liveness.map(|v| from_value(v, "liveness findings")).transpose()?,
            document_data: r
                .document_data_blob
                .map(|k| BlobKey::parse(&k).ok_or_else(|| corrupt("blob key")))
                .transpose()?,
            scores: r.scores.map(|v| from_value::<Scores>(v, "scores")).transpose()?,
        })
    }

    async fn save_document_findings(
        &self,
        tenant: TenantId,
        session: InterviewId,
        findings: &DocumentFindings,
        data: Option<&BlobKey>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO session_results (session_id, tenant_id, document, document_data_blob, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (session_id) DO UPDATE SET document = excluded.document,
                 document_data_blob = excluded.document_data_blob, updated_at = excluded.updated_at",
        )
        .bind(session.to_string())
        .bind(tenant.to_string())
        .bind(Json(findings))
        .bind(data.map(BlobKey::as_str))
        .bind(at)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
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
        sqlx::query(
            "INSERT INTO session_results (session_id, tenant_id, face, liveness, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (session_id) DO UPDATE SET face = excluded.face, liveness = excluded.liveness,
                 updated_at = excluded.updated_at",
        )
        .bind(session.to_string())
        .bind(tenant.to_string())
        .bind(Json(face))
        .bind(liveness.map(Json))
        .bind(at)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn save_scores(
        &self,
        tenant: TenantId,
        session: InterviewId,
        scores: &Scores,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO session_results (session_id, tenant_id, scores, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (session_id) DO UPDATE SET scores = excluded.scores, updated_at = excluded.updated_at",
        )
        .bind(session.to_string())
        .bind(tenant.to_string())
        .bind(Json(scores))
        .bind(at)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
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
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        let old = register_image(&mut tx, tenant, session, name, key, at).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(old)
    }

    async fn images(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<(String, BlobKey)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, blob_key FROM session_images WHERE tenant_id = $1 AND session_id = $2 ORDER BY name",
        )
        .bind(tenant.to_string())
        .bind(session.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter().map(|(n, k)| Ok((n, BlobKey::parse(&k).ok_or_else(|| corrupt("blob key"))?))).collect()
    }

    async fn referenced_blobs(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<BlobKey>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT jsonb_array_elements_text(blobs) FROM captures WHERE tenant_id = $1 AND session_id = $2
             UNION SELECT blob_key FROM session_images WHERE tenant_id = $1 AND session_id = $2
             UNION SELECT document_data_blob FROM session_results
                 WHERE tenant_id = $1 AND session_id = $2 AND document_data_blob IS NOT NULL",
        )
        .bind(tenant.to_string())
        .bind(session.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter().map(|(k,)| BlobKey::parse(&k).ok_or_else(|| corrupt("blob key"))).collect()
    }
}

/// Points an image name at a blob, inside the caller's transaction; returns the key it replaced.
pub(crate) async fn register_image(
    conn: &mut PgConnection,
    tenant: TenantId,
    session: InterviewId,
    name: &str,
    key: &BlobKey,
    at: OffsetDateTime,
) -> StoreResult<Option<BlobKey>> {
    // FOR UPDATE: a concurrent replacement of the same image waits, so each replaced key is
    // reported exactly once.
    let old: Option<String> = sqlx::query_scalar(
        "SELECT blob_key FROM session_images WHERE tenant_id = $1 AND session_id = $2 AND name = $3 FOR UPDATE",
    )
    .bind(tenant.to_string())
    .bind(session.to_string())
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_err)?;
    sqlx::query(
        "INSERT INTO session_images (session_id, tenant_id, name, blob_key, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (session_id, name) DO UPDATE SET blob_key = excluded.blob_key, created_at = excluded.created_at",
    )
    .bind(session.to_string())
    .bind(tenant.to_string())
    .bind(name)
    .bind(key.as_str())
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    old.filter(|o| o != key.as_str()).map(|k| BlobKey::parse(&k).ok_or_else(|| corrupt("blob key"))).transpose()
}

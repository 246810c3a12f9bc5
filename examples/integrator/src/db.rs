//! The integrator's own database: which onboarding sessions belong to which user, the session
//! token needed to ask about them later (guide step 1.2), and the decision the app took.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// One stored onboarding attempt.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredSession {
    pub interview_id: String,
    pub user_id: String,
    pub token: String,
    pub created_at_ms: i64,
    pub decision: Option<String>,
    pub decision_final: Option<bool>,
    pub reason: Option<String>,
}

// The token is a bearer credential: never print it, even in debug output.
impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("interview_id", &self.interview_id)
            .field("created_at_ms", &self.created_at_ms)
            .field("decision", &self.decision)
            .field("decision_final", &self.decision_final)
            .finish_non_exhaustive()
    }
}

/// What `/fetch-score` decided, as kept for the user's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDecision<'a> {
    pub status: &'a str,
    pub is_final: bool,
    pub reason: &'a str,
    pub id_validation: Option<&'a str>,
    pub liveness: Option<&'a str>,
    pub face_recognition: Option<&'a str>,
}

/// The SQLite database (a file; created with its schema on first open).
#[derive(Debug, Clone)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// Opens (creating if needed) the database file and applies the embedded migrations.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Step 1.2: remember the session for this user.
    pub async fn insert_session(&self, user_id: &str, interview_id: &str, token: &str) -> Result<(), sqlx::Error> {
        // A resumed session (Incode's `existingSession`) comes back with the same interviewId
        // and a new token: keep the newest token rather than failing.
        sqlx::query(
            "INSERT INTO onboarding_sessions (interview_id, user_id, token, created_at_ms) VALUES (?, ?, ?, ?)
             ON CONFLICT (interview_id) DO UPDATE SET token = excluded.token",
        )
        .bind(interview_id)
        .bind(user_id)
        .bind(token)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session with this interviewId, if this app created it.
    pub async fn session(&self, interview_id: &str) -> Result<Option<StoredSession>, sqlx::Error> {
        sqlx::query_as::<_, StoredSession>(
            "SELECT interview_id, user_id, token, created_at_ms, decision, decision_final, reason
             FROM onboarding_sessions WHERE interview_id = ?",
        )
        .bind(interview_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Every attempt of one user, oldest first.
    pub async fn sessions_of(&self, user_id: &str) -> Result<Vec<StoredSession>, sqlx::Error> {
        sqlx::query_as::<_, StoredSession>(
            "SELECT interview_id, user_id, token, created_at_ms, decision, decision_final, reason
             FROM onboarding_sessions WHERE user_id = ? ORDER BY created_at_ms, interview_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Records the latest decision for a session.
    pub async fn record_decision(&self, interview_id: &str, d: &StoredDecision<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE onboarding_sessions SET decision = ?, decision_final = ?, reason = ?, id_validation_status = ?,
             liveness_status = ?, face_recognition_status = ?, decided_at_ms = ? WHERE interview_id = ?",
        )
        .bind(d.status)
        .bind(d.is_final)
        .bind(d.reason)
        .bind(d.id_validation)
        .bind(d.liveness)
        .bind(d.face_recognition)
        .bind(now_ms())
        .bind(interview_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Closes the pool (lets tests reopen the file).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

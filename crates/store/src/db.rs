//! The seam between the port implementations and the two databases. Queries are written once,
//! with `$n` placeholders (sqlx-sqlite binds `$n` by its number, as PostgreSQL does); what
//! differs is how a value is stored and read back: SQLite keeps timestamps as integer
//! milliseconds and JSON as text, PostgreSQL as `timestamptz` and `jsonb`. [`Value`] and [`Row`]
//! hide that, and [`Dialect`] holds the few pieces of SQL the two spell differently.

use serde::de::DeserializeOwned;
use serde_json::value::{RawValue, to_raw_value};
use sqlx::postgres::{PgPool, PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqlitePool, SqliteRow};
use sqlx::types::Json;
use sqlx::{PgConnection, Row as _, SqlSafeStr, SqlStr, SqliteConnection};
use time::OffsetDateTime;
use veriframe_core::clock::{from_unix_millis, unix_millis};
use veriframe_core::ports::{StoreError, StoreResult};

/// Maps driver errors onto the port's vocabulary.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_owned()),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        // SQLite's answer when another process holds the write lock past the busy timeout.
        sqlx::Error::Database(db) if db.message().contains("database is locked") => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

/// A row this code never wrote: reported, never papered over.
pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Other(format!("unreadable {what} in the database"))
}

/// Parses an identifier column.
pub(crate) fn id<T: std::str::FromStr>(s: &str, what: &str) -> StoreResult<T> {
    s.parse().map_err(|_| corrupt(what))
}

/// The connections of one store.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// Reads share a pool; every write goes through one connection, so writers queue in the
    /// process instead of racing for SQLite's single write lock (which answers a loser with
    /// "database is locked" when a transaction has to upgrade from read to write).
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

impl Db {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite { .. } => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Where reads go.
    pub(crate) fn read(&self) -> Conn<'_> {
        match self {
            Db::Sqlite { read, .. } => Conn::SqlitePool(read),
            Db::Postgres(pool) => Conn::PostgresPool(pool),
        }
    }

    /// Where single-statement writes go.
    pub(crate) fn write(&self) -> Conn<'_> {
        match self {
            Db::Sqlite { write, .. } => Conn::SqlitePool(write),
            Db::Postgres(pool) => Conn::PostgresPool(pool),
        }
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// it never has to upgrade a read lock mid-way, which fails instead of waiting.
    pub(crate) async fn begin(&self) -> StoreResult<Tx> {
        match self {
            Db::Sqlite { write, .. } => Ok(Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?)),
            Db::Postgres(pool) => Ok(Tx::Postgres(pool.begin().await.map_err(map_err)?)),
        }
    }
}

/// The SQL the two databases spell differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The elements of a JSON array of strings, as a table `j` with one column `value`.
    pub(crate) fn json_strings(self, array: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_each({array}) AS j"),
            Dialect::Postgres => format!("jsonb_array_elements_text({array}) AS j(value)"),
        }
    }

    /// The smaller of two values in one row.
    pub(crate) fn least(self) -> &'static str {
        match self {
            Dialect::Sqlite => "MIN",
            Dialect::Postgres => "LEAST",
        }
    }

    /// Row locks for a select inside a transaction. SQLite's transactions hold the whole
    /// database's write lock already.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE",
        }
    }

    /// Row locks that concurrent claimers skip instead of queueing on.
    pub(crate) fn for_update_skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

/// A write transaction.
pub(crate) enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::Sqlite(tx),
            Tx::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    pub(crate) async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
        .map_err(map_err)
    }
}

/// Where a query runs: a pool, or the connection of a transaction.
pub(crate) enum Conn<'a> {
    SqlitePool(&'a SqlitePool),
    Sqlite(&'a mut SqliteConnection),
    PostgresPool(&'a PgPool),
    Postgres(&'a mut PgConnection),
}

impl Conn<'_> {
    /// The same connection again, for a further statement of the same transaction.
    pub(crate) fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::SqlitePool(pool) => Conn::SqlitePool(pool),
            Conn::Sqlite(conn) => Conn::Sqlite(conn),
            Conn::PostgresPool(pool) => Conn::PostgresPool(pool),
            Conn::Postgres(conn) => Conn::Postgres(conn),
        }
    }
}

/// A value bound to a placeholder, in the domain's terms; each database stores it its own way.
#[derive(Debug)]
pub(crate) enum Value {
    Text(Option<String>),
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
    Time(Option<OffsetDateTime>),
    /// Serialised once, as the serde derive writes it; SQLite stores the text, PostgreSQL parses
    /// it into `jsonb`.
    Json(Option<Box<RawValue>>),
}

impl Value {
    /// Serialises a document for a JSON column.
    pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<Self> {
        to_raw_value(value).map(|v| Value::Json(Some(v))).map_err(|e| StoreError::Other(e.to_string()))
    }

    /// Serialises an optional document; `None` stores SQL `NULL`.
    pub(crate) fn opt_json<T: serde::Serialize>(value: Option<&T>) -> StoreResult<Self> {
        match value {
            Some(v) => Self::json(v),
            None => Ok(Value::Json(None)),
        }
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_owned()))
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}

impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_owned))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

impl From<OffsetDateTime> for Value {
    fn from(v: OffsetDateTime) -> Self {
        Value::Time(Some(v))
    }
}

impl From<Option<OffsetDateTime>> for Value {
    fn from(v: Option<OffsetDateTime>) -> Self {
        Value::Time(v)
    }
}

/// A statement and its bound values.
pub(crate) struct Query {
    sql: SqlStr,
    args: Vec<Value>,
}

/// Starts a statement. Only literal SQL, or SQL assembled from literals and [`Dialect`]
/// pieces under `AssertSqlSafe`, gets here: values always travel as placeholders.
pub(crate) fn query(sql: impl SqlSafeStr) -> Query {
    Query { sql: sql.into_sql_str(), args: Vec::new() }
}

/// Runs a query on whichever database `$conn` is, and converts the driver's answer with
/// `$convert`, in which `$wrap` is that database's [`Row`] constructor.
macro_rules! on_each_database {
    ($query:expr, $conn:expr, $method:ident, |$out:ident, $wrap:ident| $convert:expr) => {{
        let Query { sql, args } = $query;
        match $conn {
            Conn::SqlitePool(pool) => sqlite_query(sql, args).$method(pool).await.map(|$out| {
                let $wrap = Row::Sqlite;
                $convert
            }),
            Conn::Sqlite(conn) => sqlite_query(sql, args).$method(conn).await.map(|$out| {
                let $wrap = Row::Sqlite;
                $convert
            }),
            Conn::PostgresPool(pool) => postgres_query(sql, args).$method(pool).await.map(|$out| {
                let $wrap = Row::Postgres;
                $convert
            }),
            Conn::Postgres(conn) => postgres_query(sql, args).$method(conn).await.map(|$out| {
                let $wrap = Row::Postgres;
                $convert
            }),
        }
        .map_err(map_err)
    }};
}

impl Query {
    pub(crate) fn bind(mut self, value: impl Into<Value>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Runs the statement; returns how many rows it changed.
    pub(crate) async fn execute(self, on: Conn<'_>) -> StoreResult<u64> {
        on_each_database!(self, on, execute, |done, _wrap| done.rows_affected())
    }

    pub(crate) async fn fetch_optional(self, on: Conn<'_>) -> StoreResult<Option<Row>> {
        on_each_database!(self, on, fetch_optional, |row, wrap| row.map(wrap))
    }

    pub(crate) async fn fetch_all(self, on: Conn<'_>) -> StoreResult<Vec<Row>> {
        on_each_database!(self, on, fetch_all, |rows, wrap| rows.into_iter().map(wrap).collect())
    }

    /// Reads every row with `read` (one of the row readers in `rows`).
    pub(crate) async fn fetch_all_with<T>(self, on: Conn<'_>, read: fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        self.fetch_all(on).await?.iter().map(read).collect()
    }

    /// Reads the row, if any, with `read`.
    pub(crate) async fn fetch_optional_with<T>(
        self,
        on: Conn<'_>,
        read: fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        self.fetch_optional(on).await?.as_ref().map(read).transpose()
    }
}

fn sqlite_query(
    sql: SqlStr,
    args: Vec<Value>,
) -> sqlx::query::Query<'static, Sqlite, <Sqlite as sqlx::Database>::Arguments> {
    args.into_iter().fold(sqlx::query(sql), |q, value| match value {
        Value::Text(v) => q.bind(v),
        Value::Int(v) => q.bind(v),
        Value::Bool(v) => q.bind(v),
        Value::Bytes(v) => q.bind(v),
        Value::Time(v) => q.bind(v.map(unix_millis)),
        Value::Json(v) => q.bind(v.map(|v| String::from(v.get()))),
    })
}

fn postgres_query(
    sql: SqlStr,
    args: Vec<Value>,
) -> sqlx::query::Query<'static, Postgres, <Postgres as sqlx::Database>::Arguments> {
    args.into_iter().fold(sqlx::query(sql), |q, value| match value {
        Value::Text(v) => q.bind(v),
        Value::Int(v) => q.bind(v),
        Value::Bool(v) => q.bind(v),
        Value::Bytes(v) => q.bind(v),
        Value::Time(v) => q.bind(v),
        Value::Json(v) => q.bind(v.map(Json)),
    })
}

/// A result row, read in the domain's terms.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    fn get<T>(&self, column: &str) -> StoreResult<T>
    where
        T: for<'r> sqlx::Decode<'r, Sqlite>
            + sqlx::Type<Sqlite>
            + for<'r> sqlx::Decode<'r, Postgres>
            + sqlx::Type<Postgres>,
    {
        match self {
            Row::Sqlite(r) => r.try_get(column),
            Row::Postgres(r) => r.try_get(column),
        }
        .map_err(map_err)
    }

    pub(crate) fn text(&self, column: &str) -> StoreResult<String> {
        self.get(column)
    }

    pub(crate) fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        self.get(column)
    }

    pub(crate) fn bool(&self, column: &str) -> StoreResult<bool> {
        self.get(column)
    }

    pub(crate) fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        self.get(column)
    }

    /// An integer column; PostgreSQL's `integer` columns read as well as `bigint` ones.
    pub(crate) fn int(&self, column: &str) -> StoreResult<i64> {
        match self {
            Row::Sqlite(r) => r.try_get(column),
            Row::Postgres(r) => r.try_get::<i64, _>(column).or_else(|_| r.try_get::<i32, _>(column).map(i64::from)),
        }
        .map_err(map_err)
    }

    pub(crate) fn time(&self, column: &str) -> StoreResult<OffsetDateTime> {
        self.opt_time(column)?.ok_or_else(|| corrupt("timestamp"))
    }

    pub(crate) fn opt_time(&self, column: &str) -> StoreResult<Option<OffsetDateTime>> {
        match self {
            Row::Sqlite(r) => r
                .try_get::<Option<i64>, _>(column)
                .map_err(map_err)?
                .map(|ms| from_unix_millis(ms).ok_or_else(|| corrupt("timestamp")))
                .transpose(),
            Row::Postgres(r) => r.try_get(column).map_err(map_err),
        }
    }

    /// A JSON column, read as `T`; `what` names it in the error when it does not fit.
    pub(crate) fn json<T: DeserializeOwned>(&self, column: &str, what: &str) -> StoreResult<T> {
        self.opt_json(column, what)?.ok_or_else(|| corrupt(what))
    }

    pub(crate) fn opt_json<T: DeserializeOwned>(&self, column: &str, what: &str) -> StoreResult<Option<T>> {
        match self {
            Row::Sqlite(r) => {
                let text: Option<String> = r.try_get(column).map_err(map_err)?;
                text.map(|t| serde_json::from_str(&t).map_err(|_| corrupt(what))).transpose()
            }
            Row::Postgres(r) => {
                let value: Option<serde_json::Value> = r.try_get(column).map_err(map_err)?;
                value.map(|v| serde_json::from_value(v).map_err(|_| corrupt(what))).transpose()
            }
        }
    }
}
